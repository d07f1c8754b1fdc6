# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Residual Networks
#
# In this assignment you build a residual network (ResNet-50) with the Keras
# Functional API and train it to read hand signs: photographs of a hand
# holding up zero to five fingers.
#
# What you will do:
#
# 1. measure why a very deep *plain* network is hard to train;
# 2. write the **identity block** and the **convolutional block**, the two
#    pieces every ResNet-50 is made of;
# 3. stack them into **ResNet-50**;
# 4. train it on the SIGNS photographs and test it the way a deployed model
#    runs (inference mode);
# 5. measure a BatchNormalization pitfall that makes the original recipe fail
#    under Keras 3;
# 6. try the network on a photograph of your own.
#
# Each exercise is followed by a check cell. Run it: it tells you whether your
# function matches the reference, and if not, what is most likely wrong.
#
# **Quick mode.** When the environment variable `RESNET_KERAS_QUICK=1` is set
# (our automated tests do this), the notebook trains on a few batches for one
# epoch, so every number it prints is meaningless. Leave it unset to run the
# real thing; on two CPU cores that takes several minutes.

# %%
import dataclasses
import shutil
import tempfile

import keras
import numpy as np
from keras.layers import (
    Activation,
    Add,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Flatten,
    Input,
    MaxPooling2D,
    ZeroPadding2D,
)
from keras.models import Model
from matplotlib.figure import Figure

from resnet_keras import load_signs, models, signs_dataset, training
from resnet_keras.blocks import glorot_uniform, random_uniform
from resnet_keras.gradients import gradient_norms
from resnet_keras.grading import check_convolutional_block, check_identity_block, check_resnet50
from resnet_keras.notebooks import quick_mode, show
from resnet_keras.plots import (
    plot_confusion_matrix,
    plot_gradient_norms_by_depth,
    plot_training_curves,
)

QUICK = quick_mode()
SEED = 1
keras.utils.set_random_seed(SEED)
print(f"Keras {keras.__version__}, backend {keras.backend.backend()}; quick mode: {QUICK}")

# %% [markdown]
# ## 1. Why very deep plain networks are hard to train
#
# Deeper networks can, in principle, represent more: early layers pick up
# edges and textures, later ones combine them into shapes and objects. In
# practice, stacking more layers onto a working network used to make it
# *worse*, and worse on the training set too, so overfitting was not the
# explanation. The network was simply harder to optimise.
#
# One reason is how the gradient travels. Backpropagation carries the error
# signal from the output back to the first layer, multiplying it by each
# layer's local derivative on the way. Fifty such factors can shrink the
# signal to almost nothing (it *vanishes*) or blow it up (it *explodes*), and
# the early layers then learn far too slowly or far too wildly.
#
# Rather than take this on trust, let us measure it. The library builds the
# course's 50-layer network in four versions: with or without the skip
# connections you are about to write (*residual* or *plain*), and with or
# without BatchNormalization. For one batch of SIGNS images, at the initial
# weights, we compute the gradient of the loss with respect to every
# convolution kernel and plot its size (the L2 norm) against the layer's
# position, from the input (left) to the output (right).

# %%
data = load_signs()
probe_size = 8 if QUICK else 64
probe_x = data.x_train[:probe_size].astype("float32") / 255.0
probe_y = data.y_train[:probe_size]

probe_tables = {}
for residual in (True, False):
    for batch_norm in (True, False):
        network = models.ResNet50(shortcuts=residual, batch_norm=batch_norm)
        label = f"{'residual' if residual else 'plain'}, {'with' if batch_norm else 'no'} BatchNorm"
        probe_tables[label] = gradient_norms(network, probe_x, probe_y)
        del network

print(f"gradient L2 norm at initialization, one batch of {probe_size} images")
print(f"{'network':<28}{'first conv':>12}{'middle conv':>13}{'last conv':>11}")
for label, table in probe_tables.items():
    norms = table.where(path="main")["grad_norm"][:-1]  # convolutions only, not the Dense head
    print(f"{label:<28}{norms[0]:>12.3g}{norms[len(norms) // 2]:>13.3g}{norms[-1]:>11.3g}")

show(
    plot_gradient_norms_by_depth(
        probe_tables, title="Gradient norm against depth at initialization (50-layer networks)"
    )
)

# %% [markdown]
# What the measurement shows (the numbers above come from a batch of 64 in the
# full mode; the quick mode uses 8, with the same pattern):
#
# - **Plain, no BatchNorm**: the gradients are $10^{-11}$ or smaller in
#   every layer. The signal dies on the way *forward* already, so the loss hardly
#   depends on any weight, and plain gradient descent would barely move them.
# - **Residual, no BatchNorm**: the same layers, plus skip connections, and the
#   gradients are more than ten orders of magnitude larger. The shortcut carries
#   the signal past each block, both forwards and backwards.
# - **With BatchNorm** both networks have usable gradients, and the plain
#   network's *early* layers receive the *largest* ones (about ten thousand at
#   the first convolution, more than ten times the residual network's). So
#   BatchNorm keeps the gradients from vanishing, but the plain network's
#   gradient still changes sharply from layer to layer, which makes one
#   learning rate too big for some layers and too small for others.
#
# "Gradients vanish" is only part of the story. Even when they don't, very
# deep plain networks train worse than shallower ones (the *degradation*
# problem); the companion notebook `Vanishing_Gradients.ipynb` measures both
# effects during training. Residual blocks address them with one idea, which
# you build next.

# %% [markdown]
# ## 2. Building a residual network
#
# A plain stack computes $a^{[l+2]} = g(z^{[l+2]})$ from $a^{[l]}$ through two
# or three layers, the *main path*. A residual block adds a *shortcut* (or
# skip connection): the block's input is added to the main path's result just
# before the last ReLU,
#
# $$a^{[l+2]} = g\left(z^{[l+2]} + a^{[l]}\right).$$
#
# Two things follow. If the best thing a block can do is nothing, it only has
# to drive its main path to zero, which is easy, instead of learning an
# identity mapping through several nonlinear layers, which is hard; so extra
# blocks rarely hurt. And during backpropagation the addition passes the
# gradient straight through to the block's input, so early layers hear from
# the loss without going through every layer in between.
#
# ResNet-50 uses two kinds of block, depending on whether the block keeps the
# shape of its input.
#
# ### 2.1 The identity block
#
# The identity block keeps the shape, so its shortcut is the input itself.
# Its main path has three convolutions, a 1x1 that narrows the channels, an
# $f \times f$ that looks at neighbouring pixels, and a 1x1 that widens them
# back (a "bottleneck"):
#
# 1. `Conv2D` with `F1` filters, kernel 1x1, stride 1, padding `'valid'`,
#    then `BatchNormalization` over the channels axis (`axis=3`), then ReLU.
# 2. `Conv2D` with `F2` filters, kernel $f \times f$, stride 1, padding
#    `'same'`, then `BatchNormalization(axis=3)`, then ReLU.
# 3. `Conv2D` with `F3` filters, kernel 1x1, stride 1, padding `'valid'`,
#    then `BatchNormalization(axis=3)`, and **no** ReLU yet.
# 4. Add the shortcut to the main path (`Add()([X, X_shortcut])`), then ReLU.
#
# Details the check looks at:
#
# - every `Conv2D` gets `kernel_initializer=initializer(seed=0)`, so your
#   weights are reproducible;
# - every `BatchNormalization` is called with `training=training`, passing
#   the block's argument on.
#
# **Exercise 1.** Write `identity_block`.


# %% nbgrader={"grade": false, "grade_id": "identity_block", "locked": false, "schema_version": 3, "solution": true, "task": false}
def identity_block(X, f, filters, training=True, initializer=random_uniform):
    """The identity block: three convolutions on the main path, the input as shortcut.

    Arguments:
    X -- input tensor of shape (m, n_H_prev, n_W_prev, n_C_prev)
    f -- integer, the window of the middle convolution
    filters -- list of three integers, the filters of the three convolutions
    training -- passed to every BatchNormalization (True: batch statistics)
    initializer -- makes the kernel initializers: call it as initializer(seed=0)

    Returns:
    X -- output tensor of shape (m, n_H, n_W, n_C), the same as the input's
    """
    F1, F2, F3 = filters
    X_shortcut = X  # kept for the addition at the end

    ### BEGIN SOLUTION
    X = Conv2D(F1, (1, 1), padding="valid", kernel_initializer=initializer(seed=0))(X)
    X = BatchNormalization(axis=3)(X, training=training)
    X = Activation("relu")(X)

    X = Conv2D(F2, (f, f), padding="same", kernel_initializer=initializer(seed=0))(X)
    X = BatchNormalization(axis=3)(X, training=training)
    X = Activation("relu")(X)

    X = Conv2D(F3, (1, 1), padding="valid", kernel_initializer=initializer(seed=0))(X)
    X = BatchNormalization(axis=3)(X, training=training)

    X = Add()([X, X_shortcut])
    X = Activation("relu")(X)
    ### END SOLUTION

    return X


# %% nbgrader={"grade": true, "grade_id": "check_identity_block", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check_identity_block(identity_block)

# %% [markdown]
# ### 2.2 The convolutional block
#
# When a block changes the shape (fewer pixels, more channels), its input can
# no longer be added to its output as it is. The convolutional block puts a
# 1x1 convolution with stride $s$ on the shortcut, which resizes the input to
# match; it has no ReLU, because its only job is to make the shapes agree.
#
# Main path:
#
# 1. `Conv2D` with `F1` filters, kernel 1x1, stride $s$, padding `'valid'`;
#    `BatchNormalization(axis=3)`; ReLU.
# 2. `Conv2D` with `F2` filters, kernel $f \times f$, stride 1, padding
#    `'same'`; `BatchNormalization(axis=3)`; ReLU.
# 3. `Conv2D` with `F3` filters, kernel 1x1, stride 1, padding `'valid'`;
#    `BatchNormalization(axis=3)`.
#
# Shortcut: `Conv2D` with `F3` filters, kernel 1x1, stride $s$, padding
# `'valid'`; `BatchNormalization(axis=3)`.
#
# Then add the two and apply a ReLU. The same details as before apply:
# `kernel_initializer=initializer(seed=0)` on every convolution, and
# `training=training` on every BatchNormalization.
#
# **Exercise 2.** Write `convolutional_block`.


# %% nbgrader={"grade": false, "grade_id": "convolutional_block", "locked": false, "schema_version": 3, "solution": true, "task": false}
def convolutional_block(X, f, filters, s=2, training=True, initializer=glorot_uniform):
    """The convolutional block: the main path and a strided 1x1 projection as shortcut.

    Arguments:
    X -- input tensor of shape (m, n_H_prev, n_W_prev, n_C_prev)
    f -- integer, the window of the middle convolution
    filters -- list of three integers, the filters of the three main-path convolutions
    s -- integer, the stride of the first convolution and of the shortcut's convolution
    training -- passed to every BatchNormalization (True: batch statistics)
    initializer -- makes the kernel initializers: call it as initializer(seed=0)

    Returns:
    X -- output tensor of shape (m, n_H, n_W, F3), with n_H = ceil(n_H_prev / s)
    """
    F1, F2, F3 = filters
    X_shortcut = X  # kept for the shortcut path

    ### BEGIN SOLUTION
    X = Conv2D(F1, (1, 1), strides=(s, s), kernel_initializer=initializer(seed=0))(X)
    X = BatchNormalization(axis=3)(X, training=training)
    X = Activation("relu")(X)

    X = Conv2D(F2, (f, f), padding="same", kernel_initializer=initializer(seed=0))(X)
    X = BatchNormalization(axis=3)(X, training=training)
    X = Activation("relu")(X)

    X = Conv2D(F3, (1, 1), padding="valid", kernel_initializer=initializer(seed=0))(X)
    X = BatchNormalization(axis=3)(X, training=training)

    X_shortcut = Conv2D(F3, (1, 1), strides=(s, s), kernel_initializer=initializer(seed=0))(
        X_shortcut
    )
    X_shortcut = BatchNormalization(axis=3)(X_shortcut, training=training)

    X = Add()([X, X_shortcut])
    X = Activation("relu")(X)
    ### END SOLUTION

    return X


# %% nbgrader={"grade": true, "grade_id": "check_convolutional_block", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check_convolutional_block(convolutional_block)

# %% [markdown]
# ### 2.3 ResNet-50
#
# ResNet-50 is a stem, four stages of blocks, and a classifier. Each stage
# starts with a convolutional block (which shrinks the image and widens the
# channels) followed by identity blocks; all middle convolutions use $f = 3$.
#
# | part | layers |
# | --- | --- |
# | stem | `ZeroPadding2D((3, 3))`; `Conv2D(64, (7, 7), strides=(2, 2))`; `BatchNormalization(axis=3)`; ReLU; `MaxPooling2D((3, 3), strides=(2, 2))` |
# | stage 2 | convolutional block, filters `[64, 64, 256]`, `s=1`; 2 identity blocks `[64, 64, 256]` |
# | stage 3 | convolutional block `[128, 128, 512]`, `s=2`; 3 identity blocks `[128, 128, 512]` |
# | stage 4 | convolutional block `[256, 256, 1024]`, `s=2`; 5 identity blocks `[256, 256, 1024]` |
# | stage 5 | convolutional block `[512, 512, 2048]`, `s=2`; 2 identity blocks `[512, 512, 2048]` |
# | head | `AveragePooling2D((2, 2))`; `Flatten()`; `Dense(classes, activation='softmax')` |
#
# Counting the weighted layers on the main path, 1 + 3 x (3 + 4 + 6 + 3) + 1
# gives the 50 in the name. The stem and stage 2 are written for you; add
# stages 3 to 5 and the average pooling. Call your blocks with their default
# initializers (leave out `initializer=`).
#
# **Exercise 3.** Complete `ResNet50`.


# %% nbgrader={"grade": false, "grade_id": "ResNet50", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ResNet50(input_shape=(64, 64, 3), classes=6):
    """ResNet-50: stem, stages 2 to 5 of residual blocks, average pooling, softmax.

    Arguments:
    input_shape -- shape of the images, (height, width, channels)
    classes -- number of classes

    Returns:
    model -- a keras.Model
    """
    X_input = Input(input_shape)

    # Stem
    X = ZeroPadding2D((3, 3))(X_input)
    X = Conv2D(64, (7, 7), strides=(2, 2), kernel_initializer=glorot_uniform(seed=0))(X)
    X = BatchNormalization(axis=3)(X)
    X = Activation("relu")(X)
    X = MaxPooling2D((3, 3), strides=(2, 2))(X)

    # Stage 2
    X = convolutional_block(X, f=3, filters=[64, 64, 256], s=1)
    X = identity_block(X, 3, [64, 64, 256])
    X = identity_block(X, 3, [64, 64, 256])

    ### BEGIN SOLUTION
    X = convolutional_block(X, f=3, filters=[128, 128, 512], s=2)
    for _ in range(3):
        X = identity_block(X, 3, [128, 128, 512])

    X = convolutional_block(X, f=3, filters=[256, 256, 1024], s=2)
    for _ in range(5):
        X = identity_block(X, 3, [256, 256, 1024])

    X = convolutional_block(X, f=3, filters=[512, 512, 2048], s=2)
    for _ in range(2):
        X = identity_block(X, 3, [512, 512, 2048])

    X = AveragePooling2D((2, 2))(X)
    ### END SOLUTION

    X = Flatten()(X)
    X = Dense(classes, activation="softmax", kernel_initializer=glorot_uniform(seed=0))(X)
    return Model(inputs=X_input, outputs=X)


# %% nbgrader={"grade": true, "grade_id": "check_resnet50", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
check_resnet50(ResNet50)

# %% [markdown]
# ## 3. The SIGNS data
#
# SIGNS has 1080 training photographs and 120 test photographs, 64x64 pixels
# in colour, each of a hand showing a digit from 0 to 5 (180 and 20 of each).
# `load_signs()` finds the two files (it looks in the folder named by the
# environment variable `SIGNS_DIR`, then `./datasets`, `./data` and the Keras
# cache) and checks them. Here are a few of them with their labels.

# %%
print(f"training images {data.x_train.shape}, labels {data.y_train.shape}")
print(f"test images     {data.x_test.shape}, labels {data.y_test.shape}")
print(f"classes: {data.classes.tolist()}")

samples = Figure(figsize=(10, 2.8), layout="constrained")
for axes, index in zip(samples.subplots(1, 6), range(0, 60, 10), strict=True):
    axes.imshow(data.x_train[index])
    axes.set_title(f"label {data.y_train[index]}")
    axes.set_xlabel("x (pixels)")
    axes.set_ylabel("y (pixels)")
samples.suptitle("SIGNS training images and their labels")
show(samples)

# %% [markdown]
# ## 4. Training with the default recipe
#
# The network is trained with the library's default recipe
# (`training.DEFAULT_RECIPE`): Adam starting at a learning rate of 0.001 and
# decaying to 0 along a cosine curve over 10 epochs, batches of 32, and a
# BatchNormalization momentum of 0.9. A tenth of the training photographs is
# held out as a validation set, which picks nothing here but shows how well
# the network generalises while it trains. Section 5 explains the momentum.
#
# Your `ResNet50` is trained if it passed its check; otherwise the library's
# reference `ResNet50` stands in, and the cell says so.
#
# The test set is used once, at the end, with `model.evaluate`. That runs the
# network in **inference mode**, the way a deployed model runs: each
# BatchNormalization uses the moving averages it collected during training,
# not the statistics of the batch in front of it.

# %%
recipe = training.DEFAULT_RECIPE
if QUICK:
    recipe = dataclasses.replace(recipe, epochs=1)
    data = dataclasses.replace(data, x_train=data.x_train[:64], y_train=data.y_train[:64])

your_model_passed = check_resnet50(ResNet50, raises=False, quiet=True).passed
if not your_model_passed:
    print("Your ResNet50 has not passed its check yet: training the library's ResNet50 instead.")


def build_resnet50(bn_momentum):
    """Your ResNet50 if it passed its check (else the reference), with this BatchNorm momentum."""
    model = ResNet50((64, 64, 3), len(data.classes)) if your_model_passed else models.ResNet50()
    for layer in model.layers:
        if isinstance(layer, BatchNormalization):
            layer.momentum = bn_momentum
    return model


split = {"data": data, "seed": SEED, "validation_split": recipe.validation_split}
train_data = signs_dataset("train", recipe.batch_size, shuffle=True, **split)
validation_data = signs_dataset("validation", recipe.batch_size, shuffle=False, **split)
test_data = signs_dataset("test", recipe.batch_size, shuffle=False, data=data)
steps_per_epoch = int(train_data.cardinality())

keras.utils.set_random_seed(SEED)
model = training.compile_model(build_resnet50(recipe.bn_momentum), recipe, steps_per_epoch)
run_dir = tempfile.mkdtemp(prefix="resnet50-signs-")
history = training.fit(
    model,
    train_data,
    run_dir,
    epochs=recipe.epochs,
    validation_data=validation_data,
    verbose=2,
)
shutil.rmtree(run_dir)  # checkpoints not needed: the trained model is in memory

# %%
test_loss, test_accuracy = model.evaluate(test_data, verbose=0)
print(f"test accuracy in inference mode: {test_accuracy:.3f} (loss {test_loss:.3f})")
show(plot_training_curves(history))

y_true = np.concatenate([np.argmax(y, axis=1) for _, y in test_data.as_numpy_iterator()])
y_pred = np.argmax(model.predict(test_data, verbose=0), axis=1)
show(
    plot_confusion_matrix(
        y_true, y_pred, [str(c) for c in data.classes], title="SIGNS test set, inference mode"
    )
)

# %% [markdown]
# `BENCHMARKS.md` records the test accuracy that the full mode reached when
# we ran it. The confusion
# matrix shows which digits it still mixes up: the diagonal holds the correct
# answers.
#
# ## 5. A BatchNormalization pitfall, measured
#
# BatchNormalization keeps two kinds of statistics. During training it
# normalises each batch by that batch's own mean and variance, and it updates
# a *moving average* of them:
# `moving = momentum * moving + (1 - momentum) * batch`. In inference mode it
# uses the moving average instead.
#
# The original course recipe keeps Keras's default momentum of 0.99 and a
# constant learning rate. With momentum 0.99 the moving average forgets its
# starting point slowly (after $n$ steps, $0.99^n$ of the initial value is
# left: 0.71 after 34 steps, one SIGNS epoch), while the weights, and with them
# the true statistics, change fast. The network then does well on batch
# statistics and badly on its own moving averages.
#
# Older Keras versions hid this: the course's blocks pass `training=True` to
# BatchNormalization, and that setting stuck to the built model, so even
# evaluation used batch statistics. Keras 3 runs a built model in inference
# mode in `evaluate` and `predict`, whatever was passed while building it, and
# the problem shows. The measurement below trains a fresh network with the
# course recipe and scores the test set after each epoch both ways.


# %%
def batch_statistics_accuracy(model, dataset):
    """Accuracy with BatchNorm on each batch's own statistics; moving averages left unchanged."""
    saved = [variable.numpy() for variable in model.non_trainable_variables]
    correct = total = 0
    for x, y in dataset:
        predictions = model(x, training=True)
        correct += int(np.sum(np.argmax(predictions, axis=1) == np.argmax(y, axis=1)))
        total += len(y)
    for variable, value in zip(model.non_trainable_variables, saved, strict=True):
        variable.assign(value)
    return correct / total


class TestBothWays(keras.callbacks.Callback):
    """After each epoch: test accuracy in inference mode and with batch statistics."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset
        self.inference, self.batch_statistics = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.inference.append(self.model.evaluate(self.dataset, verbose=0)[1])
        self.batch_statistics.append(batch_statistics_accuracy(self.model, self.dataset))
        print(
            f"epoch {epoch + 1}: test accuracy {self.inference[-1]:.3f} in inference mode, "
            f"{self.batch_statistics[-1]:.3f} with batch statistics"
        )


course = dataclasses.replace(training.COURSE_RECIPE, epochs=1 if QUICK else 3)
course_train_data = signs_dataset("train", course.batch_size, shuffle=True, data=data, seed=SEED)
keras.utils.set_random_seed(SEED)
course_model = training.compile_model(
    build_resnet50(course.bn_momentum), course, int(course_train_data.cardinality())
)
both_ways = TestBothWays(test_data)
course_model.fit(course_train_data, epochs=course.epochs, callbacks=[both_ways], verbose=0)

print(
    f"\ndefault recipe (momentum {recipe.bn_momentum}), after training: "
    f"{test_accuracy:.3f} in inference mode, "
    f"{batch_statistics_accuracy(model, test_data):.3f} with batch statistics"
)

epochs_axis = np.arange(1, course.epochs + 1)
pitfall = Figure(figsize=(7, 4), layout="constrained")
axes = pitfall.subplots()
axes.plot(epochs_axis, both_ways.batch_statistics, "-o", label="batch statistics")
axes.plot(epochs_axis, both_ways.inference, "-s", label="inference mode (model.evaluate)")
axes.axhline(1 / len(data.classes), color="grey", linestyle=":", label="chance (1/6)")
axes.set_ylim(0, 1.02)
axes.set_xticks(epochs_axis)
axes.set_xlabel("epoch")
axes.set_ylabel("test accuracy (fraction correct)")
axes.set_title("Course recipe (BatchNorm momentum 0.99): the two ways to score")
axes.legend()
show(pitfall)

# %% [markdown]
# What to look for: with the course recipe, inference mode stays near chance
# (1/6) while batch statistics climb well above it; the default recipe's
# network scores about the same both ways. On this kind of machine,
# `../shared/docs/FINDINGS.md` (section 1) measured the course recipe over ten
# epochs: 0.17 in inference mode at epochs 1 to 6 while batch statistics rose
# from 0.66 to 0.93. A network that only works on batch statistics is not a
# working network: a deployed model sees one photograph at a time and must use
# its moving averages.
#
# Two changes to the recipe fix it: a momentum of 0.9, so the moving averages
# keep up with the weights (after 34 steps only $0.9^{34} \approx 0.03$ of the
# stale value is left), and a learning rate that decays to zero, so the
# weights settle in the last epoch and the averages catch up with them.
#
# ## 6. Test on your own image
#
# Take a photograph of your hand showing 0 to 5 fingers against a plain
# background, put it next to this notebook, and set `my_image` to its file
# name. It is read as RGB, resized to 64x64 and scaled to [0, 1], exactly as
# the training images were. Without a file of your own, a test photograph
# stands in.

# %%
my_image = None  # e.g. "my_hand.jpg"

if my_image is None:
    image = data.x_test[0].astype("float32") / 255.0
    source = f"SIGNS test image 0 (label {data.y_test[0]})"
else:
    image = training.read_image(my_image, (64, 64))
    source = my_image
probabilities = model.predict(image[np.newaxis], verbose=0)[0]
predicted = int(np.argmax(probabilities))

own = Figure(figsize=(8, 3.2), layout="constrained")
picture, bars = own.subplots(1, 2)
picture.imshow(image)
picture.set_title(source)
picture.set_xlabel("x (pixels)")
picture.set_ylabel("y (pixels)")
bars.bar([str(c) for c in data.classes], probabilities)
bars.set_title(f"predicted: {data.classes[predicted]} fingers")
bars.set_xlabel("class (fingers shown)")
bars.set_ylabel("probability")
bars.set_ylim(0, 1)
own.suptitle("Your image and the network's answer (inference mode)")
show(own)

# %% [markdown]
# ## What to remember
#
# - Very deep plain networks are hard to train. Without normalisation their
#   gradients vanish; with BatchNorm they don't vanish, but deep plain
#   networks still train worse than shallow ones (degradation).
# - A residual block adds its input to its output. Learning "do nothing" then
#   means driving the main path to zero, and the gradient reaches early layers
#   through the shortcuts.
# - The identity block keeps the shape and adds the input as it is; the
#   convolutional block changes the shape and resizes the input with a
#   strided 1x1 convolution before adding it.
# - ResNet-50 is a stem, four stages that each start with a convolutional
#   block, and a small classifier: 23.6 million parameters for 64x64 SIGNS.
# - Test a network the way it will be used: `model.evaluate` runs in
#   inference mode. BatchNorm's moving averages must keep up with the weights
#   (momentum 0.9 and a decaying learning rate in our recipe), or a network
#   that looks good in training scores near chance.
