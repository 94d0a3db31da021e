" archdsl specs (.arch). Written by `python -m archdsl.lsp.vocabulary vim`: do not edit.
if exists("b:current_syntax")
  finish
endif

syn match archDefinition "^\s*\zs\h[[:alnum:]_]*\(-[[:alnum:]_]\+\)*\ze\s\+\(\h\|\[\)"
syn match archOption "\<\h\w*\ze\s*=\([^=]\|$\)"
syn match archFunction "\<\h\w*\ze("
syn match archBlockName "\(\<block\s\+\)\@<=\h\w*"
syn match archLibrary "\(\<use\s\+\)\@<=\h\w*"
syn match archInteger "\<\d\+\>"
syn match archFloat "\<\d\+\.\d*\([eE][-+]\=\d\+\)\=\|\<\d\+[eE][-+]\=\d\+\>"
syn match archSize "\<\d\+\(x\d\+\)\+\>"
syn match archStride "\s\zs/\d\+\>"
syn keyword archKeyword network input param default stem head body scope residual concat stages shortcut branch if elif else let require block use output from
syn keyword archConstant true false none
syn keyword archWordOperator and or not
syn keyword archType conv bn relu sigmoid relu6 hardswish hardsigmoid silu gelu leaky_relu tanh elu mish exp deconv frozen_bn layernorm groupnorm position_linear layer_scale stochastic_depth adaptive_avgpool adaptive_maxpool upsample shuffle identity flatten global_avgpool maxpool avgpool linear dropout zeropad add mul sub div rearrange reduce softmax roll crop select matmul tensor shift_mask position_bias attention clamp coords_table basic bottleneck res2 dense transition split
syn match archComment "#.*$"
syn match archString +"[^"]*"+

hi def link archComment Comment
hi def link archString String
hi def link archKeyword Keyword
hi def link archConstant Boolean
hi def link archWordOperator Operator
hi def link archType Type
hi def link archDefinition Identifier
hi def link archBlockName Function
hi def link archLibrary Include
hi def link archFunction Function
hi def link archOption Label
hi def link archSize Number
hi def link archStride Special
hi def link archFloat Float
hi def link archInteger Number

let b:current_syntax = "arch"
