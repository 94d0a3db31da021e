"""Hand-written reference networks for the benchmark, written the way one writes a
model by hand: nn.Module classes with a Python forward, in-place ReLUs and adds.

The module structure follows the torchvision / timm layouts, so a spec-built model's
state_dict loads into these with strict=True. They are the "equivalent hand-written
nn.Module" the generated code is timed against where torchvision / timm are absent, so
each forward makes its calls in the order torchvision's or timm's does, one call a
statement where theirs does (`out = self.conv1(x)`, `out = self.bn1(out)`, ...) and
nested where theirs is (DenseNet's layers): the statement form decides how long each
intermediate tensor lives, which on a CPU with glibc's malloc decides how many pages a
forward faults in afresh (bench/NOTES.md).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


def conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)


class SqueezeExcite(nn.Module):
    """timm's SEModule: mean over the image, 1x1 convs with bias, a sigmoid gate."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s), inplace=True)))


class ResidualBlock(nn.Module):
    """The end every block shares, in torchvision's and timm's order: optional SE, then the
    shortcut (projected if need be) added in place, then a ReLU."""

    def join(self, out, x):
        if self.se is not None:
            out = self.se(out)
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class BasicBlock(ResidualBlock):
    expansion = 1

    def __init__(self, cin, planes, stride=1, downsample=None, groups=1, base_width=64, se=0):
        super().__init__()
        self.conv1 = conv(cin, planes, 3, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv(planes, planes, 3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.se = SqueezeExcite(planes, se) if se else None
        self.downsample = downsample

    def forward(self, x):
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        return self.join(out, x)


class Bottleneck(ResidualBlock):
    """torchvision's v1.5 bottleneck (stride on the 3x3), with timm's optional SE."""

    expansion = 4

    def __init__(self, cin, planes, stride=1, downsample=None, groups=1, base_width=64, se=0):
        super().__init__()
        width = int(planes * base_width / 64) * groups
        self.conv1 = conv(cin, width, 1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv(width, width, 3, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv(width, planes * self.expansion, 1)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.se = SqueezeExcite(planes * self.expansion, se) if se else None
        self.downsample = downsample

    def forward(self, x):
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu(out)
        out = self.conv3(out)
        out = self.bn3(out)
        return self.join(out, x)


class Res2Bottleneck(ResidualBlock):
    """timm's Bottle2neck: conv1's output split into `scale` parts, each but the last
    through its own 3x3 (chained, except in a stage's first block), then concatenated."""

    expansion = 4

    def __init__(self, cin, planes, stride=1, downsample=None, groups=1, base_width=26, se=0, scale=4):
        super().__init__()
        self.width = int(planes * base_width / 64) * groups
        self.is_first = stride > 1 or downsample is not None
        self.conv1 = conv(cin, self.width * scale, 1)
        self.bn1 = nn.BatchNorm2d(self.width * scale)
        self.convs = nn.ModuleList(conv(self.width, self.width, 3, stride, groups) for _ in range(scale - 1))
        self.bns = nn.ModuleList(nn.BatchNorm2d(self.width) for _ in range(scale - 1))
        self.pool = nn.AvgPool2d(3, stride, 1) if self.is_first else None
        self.conv3 = conv(self.width * scale, planes * self.expansion, 1)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.se = SqueezeExcite(planes * self.expansion, se) if se else None
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        parts = torch.split(out, self.width, 1)
        outs = []
        for i, (conv_i, bn_i) in enumerate(zip(self.convs, self.bns)):
            part = parts[i] if i == 0 or self.is_first else part + parts[i]
            part = conv_i(part)
            part = bn_i(part)
            part = self.relu(part)
            outs.append(part)
        outs.append(self.pool(parts[-1]) if self.pool is not None else parts[-1])
        out = torch.cat(outs, 1)
        out = self.conv3(out)
        out = self.bn3(out)
        return self.join(out, x)


class ResNet(nn.Module):
    """The ResNet family in torchvision's layout; `deep_stem`/`avg_down` give timm's ResNet-D."""

    def __init__(self, block, layers, num_classes=1000, deep_stem=False, avg_down=False, **block_args):
        super().__init__()
        self.block, self.block_args, self.avg_down = block, block_args, avg_down
        self.inplanes = 64
        if deep_stem:
            self.conv1 = nn.Sequential(
                conv(3, 32, 3, 2), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
                conv(32, 32, 3), nn.BatchNorm2d(32), nn.ReLU(inplace=True), conv(32, 64, 3))
        else:
            self.conv1 = conv(3, 64, 7, 2)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._layer(64, layers[0], 1)
        self.layer2 = self._layer(128, layers[1], 2)
        self.layer3 = self._layer(256, layers[2], 2)
        self.layer4 = self._layer(512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        out = planes * self.block.expansion
        downsample = None
        if stride != 1 or self.inplanes != out:
            downsample = self._downsample(self.inplanes, out, stride)
        layers = [self.block(self.inplanes, planes, stride, downsample, **self.block_args)]
        self.inplanes = out
        layers += [self.block(out, planes, **self.block_args) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _downsample(self, cin: int, cout: int, stride: int) -> nn.Sequential:
        if not self.avg_down:
            return nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))
        pool = nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False) if stride > 1 else nn.Identity()
        return nn.Sequential(pool, conv(cin, cout, 1), nn.BatchNorm2d(cout))

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bn_size: int):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = conv(cin, bn_size * growth, 1)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = conv(bn_size * growth, growth, 3)

    def forward(self, features: list):
        x = torch.cat(features, 1)
        x = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.ModuleDict):
    def __init__(self, layers: int, cin: int, growth: int, bn_size: int):
        super().__init__()
        for i in range(layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(cin + i * growth, growth, bn_size))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(cin))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", conv(cin, cout, 1))
        self.add_module("pool", nn.AvgPool2d(2, 2))


class DenseNet(nn.Module):
    """DenseNet-BC in torchvision's layout (features.denseblockN.denselayerM, classifier)."""

    def __init__(self, growth, blocks, init_features, bn_size=4, num_classes=1000):
        super().__init__()
        parts = OrderedDict(conv0=conv(3, init_features, 7, 2), norm0=nn.BatchNorm2d(init_features),
                            relu0=nn.ReLU(inplace=True), pool0=nn.MaxPool2d(3, 2, 1))
        channels = init_features
        for i, layers in enumerate(blocks, 1):
            parts[f"denseblock{i}"] = DenseBlock(layers, channels, growth, bn_size)
            channels += layers * growth
            if i < len(blocks):
                parts[f"transition{i}"] = Transition(channels, channels // 2)
                channels //= 2
        parts["norm5"] = nn.BatchNorm2d(channels)
        self.features = nn.Sequential(parts)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = F.relu(self.features(x), inplace=True)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))


def _resnet(block, layers, **kwargs):
    return lambda num_classes=1000: ResNet(block, layers, num_classes, **kwargs)


def _densenet(growth, blocks, init_features):
    return lambda num_classes=1000: DenseNet(growth, blocks, init_features, num_classes=num_classes)


#: bundled spec name -> constructor taking num_classes
REFERENCES = {
    "resnet18": _resnet(BasicBlock, [2, 2, 2, 2]),
    "resnet34": _resnet(BasicBlock, [3, 4, 6, 3]),
    "resnet50": _resnet(Bottleneck, [3, 4, 6, 3]),
    "resnet101": _resnet(Bottleneck, [3, 4, 23, 3]),
    "resnet152": _resnet(Bottleneck, [3, 8, 36, 3]),
    "resnext50_32x4d": _resnet(Bottleneck, [3, 4, 6, 3], groups=32, base_width=4),
    "resnext101_32x8d": _resnet(Bottleneck, [3, 4, 23, 3], groups=32, base_width=8),
    "wide_resnet50_2": _resnet(Bottleneck, [3, 4, 6, 3], base_width=128),
    "resnet50d": _resnet(Bottleneck, [3, 4, 6, 3], deep_stem=True, avg_down=True),
    "seresnet50": _resnet(Bottleneck, [3, 4, 6, 3], se=16),
    "res2net50_26w_4s": _resnet(Res2Bottleneck, [3, 4, 6, 3], base_width=26, scale=4),
    "res2net50_14w_8s": _resnet(Res2Bottleneck, [3, 4, 6, 3], base_width=14, scale=8),
    "res2net50_48w_2s": _resnet(Res2Bottleneck, [3, 4, 6, 3], base_width=48, scale=2),
    "res2net101_26w_4s": _resnet(Res2Bottleneck, [3, 4, 23, 3], base_width=26, scale=4),
    "res2next50": _resnet(Res2Bottleneck, [3, 4, 6, 3], groups=8, base_width=4, scale=4),
    "densenet121": _densenet(32, (6, 12, 24, 16), 64),
    "densenet161": _densenet(48, (6, 12, 36, 24), 96),
    "densenet169": _densenet(32, (6, 12, 32, 32), 64),
    "densenet201": _densenet(32, (6, 12, 48, 32), 64),
}
