"""The suite's networks, as ``nets.Sequential`` specs: what each experiment trains.

Every spec is plain data (a tuple of layer specs), so the same object builds the linen module,
names its parameters and is written to a Keras ``.h5`` file (``jexp.io.keras_h5``).
"""
from __future__ import annotations

from jexp.nn.nets import (Activation, BatchNorm, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D,
                          Sequential)


def _conv_block(filters):
    return (Conv2D(filters, 3), BatchNorm(), Activation("relu"))


MNIST_MLP = Sequential((28, 28, 1), (Flatten(), Dense(512, "relu"), Dropout(0.2), Dense(512, "relu"), Dropout(0.2),
                                     Dense(10)))
# 198k parameters: two pairs of 3×3 valid convolutions with BatchNorm, max-pooling after each pair
MNIST_CNN = Sequential((28, 28, 1), _conv_block(32) + _conv_block(32) + (MaxPool2D(),) + _conv_block(64)
                       + _conv_block(64) + (MaxPool2D(), Flatten(), Dense(128), BatchNorm(), Activation("relu"),
                                            Dropout(0.4), Dense(10)))
# 0.84M parameters, no BatchNorm or dropout: the MNIST network of Wong, Rice & Kolter (2020) for fast
# adversarial training (two 4×4 stride-2 convolutions, then a hidden Dense layer) at twice its width
# (32 and 64 filters, 256 units): 2.5 M multiply-adds per image against MNIST_CNN's 9.8 M, so PGD
# adversarial training fits a 2-core CPU
MNIST_STRIDED = Sequential((28, 28, 1), (Conv2D(32, 4, 2, "same", "relu"), Conv2D(64, 4, 2, "same", "relu"), Flatten(),
                                         Dense(256, "relu"), Dense(10)))
# 0.29M parameters: three pairs of 3×3 "same" convolutions (32, 64, 128) with BatchNorm, max-pooling
# after each pair, global average pooling; sized for a 2-core CPU and 10,000 training images
CIFAR_CNN = Sequential((32, 32, 3), tuple(layer for f in (32, 64, 128) for layer in (
    Conv2D(f, 3, padding="same"), BatchNorm(), Activation("relu"), Conv2D(f, 3, padding="same"), BatchNorm(),
    Activation("relu"), MaxPool2D())) + (GlobalAvgPool2D(), Dropout(0.3), Dense(10)))
# 1.2M parameters: facial emotions (FER2013, 48×48 grey). One 3×3 convolution of 32 channels at full
# resolution (the costliest place for width), then pairs of 3×3 "same" convolutions (64, 128, 256) with
# BatchNorm, max-pooling between them, global average pooling and dropout: the compute goes where the
# image is small. Fully convolutional up to the pooling, so it also classifies crops of other sizes.
EMOTION_CNN = Sequential((48, 48, 1), (Conv2D(32, 3, padding="same"), BatchNorm(), Activation("relu"), MaxPool2D())
                         + tuple(layer for i, f in enumerate((64, 128, 256)) for layer in (
                             Conv2D(f, 3, padding="same"), BatchNorm(), Activation("relu"),
                             Conv2D(f, 3, padding="same"), BatchNorm(), Activation("relu"))
                             + ((MaxPool2D(),) if i < 2 else ()))
                         + (GlobalAvgPool2D(), Dropout(0.5), Dense(7)))
# SVHN, the sheet's network (Athens ML assignment 2, exercise 2): three 3×3 convolutions of 9, 36 and
# 49 filters, each followed by 3×3 max-pooling (stride 3), then softmax regression. "same" padding
# keeps each convolution's size, so the pools take 32 → 10 → 3 → 1 and the last layer sees 1×1×49.
SVHN_SHEET = Sequential((32, 32, 3), tuple(layer for f in (9, 36, 49) for layer in (
    Conv2D(f, 3, padding="same", activation="relu"), MaxPool2D(3))) + (Flatten(), Dense(10)))
# the same topology 4× wider (36, 144, 196 filters): what the sheet's width leaves on the table
SVHN_WIDE = Sequential((32, 32, 3), tuple(layer for f in (36, 144, 196) for layer in (
    Conv2D(f, 3, padding="same", activation="relu"), MaxPool2D(3))) + (Flatten(), Dense(10)))
