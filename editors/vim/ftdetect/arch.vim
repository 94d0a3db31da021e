" archdsl specs
autocmd BufRead,BufNewFile *.arch setfiletype arch
