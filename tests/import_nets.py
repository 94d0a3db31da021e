"""Networks written in plain PyTorch for tests/test_import.py: what a user brings to `archdsl import`.

ResNet18 and MobileNetV2 follow torchvision's module layout (the names of every submodule), so
their imports can be held to the reference cards; UNet is a user's own network; the rest are
modules the importer must refuse, each for one reason. `archdsl import import_nets:make_unet`
(from this folder) imports the U-Net.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class Down(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.MaxPool2d(2), DoubleConv(cin, cout))


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.conv = DoubleConv(2 * cout, cout)

    def forward(self, x, skip):
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class UNet(nn.Module):
    """A small U-Net: three levels down, three up with skips, a 1x1 conv to the classes."""

    def __init__(self, channels=1, classes=2, base=8):
        super().__init__()
        self.inc = DoubleConv(channels, base)
        self.down1 = Down(base, base * 2)
        self.down2 = Down(base * 2, base * 4)
        self.down3 = Down(base * 4, base * 8)
        self.up1 = Up(base * 8, base * 4)
        self.up2 = Up(base * 4, base * 2)
        self.up3 = Up(base * 2, base)
        self.outc = nn.Conv2d(base, classes, 1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x = self.down3(x3)
        x = self.up1(x, x3)
        x = self.up2(x, x2)
        x = self.up3(x, x1)
        return self.outc(x)


def make_unet():
    return UNet()


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block layout: conv1 bn1 conv2 bn2 [downsample.0 .1], one ReLU module."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        y += shortcut
        return self.relu(y)


class ResNet18(nn.Module):
    """torchvision's resnet18 module layout, written here."""

    def __init__(self, classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, width in enumerate([64, 128, 256, 512]):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, width, stride), BasicBlock(width, width)))
            cin = width
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ConvBNReLU6(nn.Sequential):
    """torchvision's Conv2dNormActivation layout: 0 conv, 1 norm, 2 ReLU6."""

    def __init__(self, cin, cout, kernel=3, stride=1, groups=1):
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = [ConvBNReLU6(cin, hidden, 1)] if expand != 1 else []
        layers += [ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden), nn.Conv2d(hidden, cout, 1, bias=False),
                   nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision's mobilenet_v2 module layout (width 1.0), written here."""

    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]

    def __init__(self, classes=1000):
        super().__init__()
        layers, cin = [ConvBNReLU6(3, 32, stride=2)], 32
        for expand, width, repeat, stride in self.SETTINGS:
            for i in range(repeat):
                layers.append(InvertedResidual(cin, width, stride if i == 0 else 1, expand))
                cin = width
        layers.append(ConvBNReLU6(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class HalfUnit(nn.Module):
    """ShuffleNetV2's unit written plainly: half the channels pass, half go through a branch; then a shuffle."""

    def __init__(self, channels):
        super().__init__()
        half = channels // 2
        self.branch = nn.Sequential(nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
                                    nn.Conv2d(half, half, 3, padding=1, groups=half, bias=False), nn.BatchNorm2d(half))

    def forward(self, x):
        kept, changed = x.chunk(2, dim=1)
        y = torch.cat((kept, self.branch(changed)), dim=1)
        n, c, h, w = y.size()
        return y.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


class TinyShuffleNet(nn.Module):
    def __init__(self, classifier="fc"):
        super().__init__()
        self.first = nn.Conv2d(3, 16, 3, 2, 1)
        self.units = nn.Sequential(HalfUnit(16), HalfUnit(16), HalfUnit(16))
        self.classifier = classifier
        setattr(self, classifier, nn.Linear(16, 10))

    def forward(self, x):
        x = self.units(self.first(x)).mean([2, 3])
        return getattr(self, self.classifier)(x)  # `head`, a word of the language, is refused as a layer's name


class DenseUnit(nn.Module):
    """torchvision's dense layer layout: it takes the list of every earlier output and concatenates it."""

    def __init__(self, cin, growth):
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv1 = nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.norm2, self.relu2 = nn.BatchNorm2d(4 * growth), nn.ReLU()
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, earlier):
        x = torch.cat(earlier, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseStage(nn.ModuleDict):
    def __init__(self, units, cin, growth):
        super().__init__({f"denselayer{i + 1}": DenseUnit(cin + i * growth, growth) for i in range(units)})

    def forward(self, x):
        outputs = [x]
        for unit in self.values():
            outputs.append(unit(outputs))
        return torch.cat(outputs, 1)


class TinyDenseNet(nn.Module):
    """torchvision's densenet layout at a small size: two dense blocks and a transition."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(3, 16, 3, padding=1, bias=False))
        self.features.add_module("denseblock1", DenseStage(3, 16, 4))
        self.features.add_module("transition1", nn.Sequential())
        layers = [("norm", nn.BatchNorm2d(28)), ("relu", nn.ReLU()), ("conv", nn.Conv2d(28, 14, 1, bias=False)),
                  ("pool", nn.AvgPool2d(2, 2))]
        for name, layer in layers:
            self.features.transition1.add_module(name, layer)
        self.features.add_module("denseblock2", DenseStage(2, 14, 4))

    def forward(self, x):
        return self.features(x)


class FunctionalDropout(nn.Module):
    """Dropout written as F.dropout(training=self.training): it follows the mode, as nn.Dropout does."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 6)

    def forward(self, x):
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(F.dropout(x, 0.3, training=self.training))


# Modules the importer refuses, each for one reason (the line the diagnostic points at is marked).

class BranchesOnValues(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        if y.mean() > 0:  # refused: control flow on a tensor's value
            y = F.relu(y)
        return y


class UsesAnUnknownOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8))

    def forward(self, x):
        return self.body(x).cumsum(1)  # refused: the importer has no cumsum


class AlwaysDrops(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 6)

    def forward(self, x):
        x = torch.flatten(x.mean((2, 3), keepdim=True), 1)
        return self.fc(F.dropout(x, 0.3, training=True))  # refused: drops in eval mode too


class SharesWeights(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        return self.conv(self.conv(x))  # refused: one conv's weights used twice


class TrainsDifferently(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        if self.training:
            y = F.relu(y)  # refused: only training runs this
        return y
