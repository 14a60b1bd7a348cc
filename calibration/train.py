"""``edgenet train``: fine-tune a MobileNet V1 variant on the user's ImageFolder.

Images go through ``edgenet.preprocess.preprocess`` (the runtime's function) once, then Keras
preprocessing layers augment them on the fly (flips, shifts, zoom-in crops). BatchNorm momentum is
0.9, not Keras' 0.99: measured on small data (a few hundred steps), 0.99 leaves the moving statistics
far from the data, and the saved model then scores at chance at inference while training accuracy
reads 95 %. The result is a ``.keras`` that ``edgenet build --weights`` takes, with its labels beside
it (``NAME.labels.txt``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from edgenet.errors import DatasetError, UsageError
from edgenet.limits import MAX_BATCH_SIZE
from edgenet.outputs import check_output_path
from edgenet.preprocess import DEFAULT_CROP, InputSpec, preprocess
from edgenet.sources import image_files
from edgenet.variants import Variant

WEIGHT_CHOICES = ("auto", "imagenet", "random")
DEFAULT_ALPHA = 0.25
BN_MOMENTUM = 0.9
# Adam's starting rate when none is given. From scratch, measured on the drawn classes (alpha 0.25,
# 64 px, 70 images a class, 14 epochs): 2e-3 left training accuracy at 93 % (validation 90 %), 5e-3
# reached 96-97 % (95 %). From pretrained weights the usual, gentler fine-tuning rate (not measured
# here: no ImageNet weights offline).
LEARNING_RATE = {"random": 5e-3, "pretrained": 1e-3}


@dataclass(frozen=True)
class TrainConfig:
    data: str
    output: str
    alpha: float | None = None  # None: 0.25, or the alpha of a .tflite given as weights
    resolution: int = 96
    # auto: ImageNet when it can be had, else from scratch; a .keras to continue; a MobileNet V1
    # .tflite or a model index name (real ImageNet features from the official models)
    weights: str = "auto"
    epochs: int = 8
    batch_size: int = 32
    learning_rate: float | None = None  # None: LEARNING_RATE for what training starts from
    validation_split: float = 0.2
    augment: bool = True
    crop: float = DEFAULT_CROP
    seed: int = 0
    max_seconds: float | None = None  # stop after the epoch that passes this budget

    def __post_init__(self) -> None:
        Variant(self.alpha or DEFAULT_ALPHA, self.resolution)
        if not os.path.isdir(self.data):
            raise UsageError(f"--data {self.data} is not a folder (expected one sub-folder of images per class)")
        check_output_path(self.output, (".keras",))
        if self.weights not in WEIGHT_CHOICES and not self.weights.endswith((".keras", ".h5", ".tflite")) \
                and not self.weights.startswith("mobilenet_v1_"):
            raise UsageError(f"--weights must be auto, imagenet, random, a .keras/.h5 file, a MobileNet V1 .tflite "
                             f"or a model name (mobilenet_v1_050_160), not {self.weights!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise UsageError("--epochs and --batch-size must be at least 1")
        if self.batch_size > MAX_BATCH_SIZE:
            raise UsageError(f"--batch-size must be at most {MAX_BATCH_SIZE}, got {self.batch_size}")
        if not 0.0 <= self.validation_split < 1.0:
            raise UsageError(f"--validation-split must be in [0, 1), got {self.validation_split}")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise UsageError(f"--learning-rate must be positive, got {self.learning_rate}")


@dataclass
class TrainResult:
    model: str
    labels: str
    classes: list[str]
    weights: str  # what training started from
    train_samples: int
    val_samples: int
    history: dict = field(default_factory=dict)
    val_accuracy: float | None = None
    seconds: float = 0.0
    learning_rate: float | None = None
    warnings: list[str] = field(default_factory=list)  # the model was saved, but should not be used as it is

    def as_dict(self) -> dict:
        return {"model": self.model, "labels": self.labels, "classes": self.classes, "started_from": self.weights,
                "learning_rate": self.learning_rate,
                "train_samples": self.train_samples, "val_samples": self.val_samples, "history": self.history,
                "val_accuracy": self.val_accuracy, "seconds": round(self.seconds, 1), "warnings": self.warnings}


def no_better_than_chance(accuracy: float, classes: int, samples: int) -> bool:
    """True when ``accuracy`` on ``samples`` images is not clearly above guessing among ``classes``:
    below chance plus two standard errors of a guesser's accuracy on that many images (a guesser
    averages 1/classes, and on a small validation set it can be lucky: on 20 images of 4 classes it
    scores 45 % or more about one time in twenty-five)."""
    chance = 1.0 / classes
    return accuracy < chance + 2.0 * (chance * (1.0 - chance) / samples) ** 0.5


def chance_warning(accuracy: float, classes: int, samples: int, per_class: list[int]) -> str:
    return (f"validation accuracy {accuracy:.1%} is no better than chance ({1 / classes:.1%} for {classes} classes, "
            f"on {samples} validation images): the saved model has learned nothing usable. Try more epochs "
            f"(--epochs), more images per class (now {min(per_class)} to {max(per_class)}), a lower --learning-rate, "
            f"or check that each class folder holds pictures of its class")


def load_image_folder(root: str, resolution: int, crop: float = DEFAULT_CROP) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(samples (N, R, R, 3) float32, class indices, class names) of an ImageFolder, preprocessed as on the board."""
    from edgenet.representative import image_folder_classes

    classes = image_folder_classes(root)
    if not classes or len(classes) < 2:
        raise DatasetError(f"{root} needs at least 2 sub-folders of images (one per class); found {len(classes or [])}")
    spec = InputSpec(resolution, resolution, 3, "float32")
    xs, ys, unreadable = [], [], 0
    for index, name in enumerate(classes):
        for path in image_files(os.path.join(root, name)):
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                unreadable += 1
                continue
            xs.append(preprocess(img, spec, crop)[0])
            ys.append(index)
    if not xs:
        raise DatasetError(f"none of the images in {root} could be read")
    return np.stack(xs), np.array(ys, np.int64), classes


def augmentation(seed: int):
    from calibration.quiet import keras

    keras = keras()

    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed),
        keras.layers.RandomZoom((-0.2, 0.0), fill_mode="reflect", seed=seed),  # zooming in = a random crop
    ], name="augment")


def _start_model(config: TrainConfig, classes: int, log: Callable[[str], None]):
    from calibration.builder import WeightsError, mobilenet_v1

    kw = dict(batch_size=None, bn_momentum=BN_MOMENTUM, seed=config.seed)
    alpha = config.alpha or DEFAULT_ALPHA
    if config.weights not in WEIGHT_CHOICES and not config.weights.endswith((".keras", ".h5")):
        from calibration.tflite_import import freeze_batchnorm, import_tflite

        model, graph = import_tflite(config.weights, config.resolution, classes, **kw)
        if config.alpha is not None and config.alpha != graph.alpha:
            raise UsageError(f"{config.weights} is alpha {graph.alpha}, not --alpha {config.alpha}; omit --alpha")
        # The imported BatchNorms are identities carrying the folded bias, not statistics of any data:
        # training mode would normalise by batch statistics and undo the pretrained features.
        frozen = freeze_batchnorm(model)
        log(f"fine-tuning {graph.file.name}'s ImageNet features (alpha {graph.alpha}, {frozen} BatchNorm layers "
            f"kept in inference mode, new {classes}-class head)")
        return model, config.weights
    if config.weights == "auto":
        if Variant(alpha, config.resolution).is_standard:
            try:
                return mobilenet_v1(alpha, config.resolution, classes, "imagenet", **kw), "imagenet"
            except WeightsError as exc:
                log(f"ImageNet weights unavailable ({exc}); training from scratch")
        else:
            log(f"no ImageNet weights for alpha {alpha} at {config.resolution} px; training from scratch")
        return mobilenet_v1(alpha, config.resolution, classes, "random", **kw), "random"
    model = mobilenet_v1(alpha, config.resolution, classes, config.weights, **kw)
    for layer in model.layers:  # a loaded .keras keeps its own momentum; small data needs ours
        if hasattr(layer, "momentum"):
            layer.momentum = BN_MOMENTUM
    return model, config.weights


def train(config: TrainConfig, progress: Callable[[int, int, dict], None] | None = None,
          log: Callable[[str], None] = lambda m: None) -> TrainResult:
    """Fine-tune and save ``config.output`` (+ labels and a history JSON beside it)."""
    from calibration.quiet import keras, tensorflow

    tf, keras = tensorflow(), keras()

    started = time.perf_counter()
    xs, ys, classes = load_image_folder(config.data, config.resolution, config.crop)
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(xs))
    n_val = int(round(len(xs) * config.validation_split))
    val, tr = order[:n_val], order[n_val:]
    if len(tr) < len(classes):
        raise DatasetError(f"only {len(tr)} training images for {len(classes)} classes in {config.data}; add more images")
    keras.utils.set_random_seed(config.seed)
    model, started_from = _start_model(config, len(classes), log)
    steps = config.epochs * -(-len(tr) // config.batch_size)
    rate = config.learning_rate or LEARNING_RATE["random" if started_from == "random" else "pretrained"]
    # Cosine decay to zero: the last epochs settle into confident, stable decisions, which is what
    # keeps int8 rounding from flipping the top-1 of borderline inputs.
    schedule = keras.optimizers.schedules.CosineDecay(rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    aug = augmentation(config.seed) if config.augment else None
    ds = tf.data.Dataset.from_tensor_slices((xs[tr], ys[tr])).shuffle(len(tr), seed=config.seed).batch(config.batch_size)
    if aug is not None:
        ds = ds.map(lambda x, y: (aug(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    val_data = (xs[val], ys[val]) if n_val else None

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if progress:
                progress(epoch + 1, config.epochs, {k: float(v) for k, v in (logs or {}).items()})
            if config.max_seconds is not None and time.perf_counter() - started > config.max_seconds:
                self.model.stop_training = True

    # shuffle=False: ds is shuffled above (Keras warns that its own shuffle does not apply to a Dataset).
    hist = model.fit(ds, validation_data=val_data, epochs=config.epochs, verbose=0, shuffle=False, callbacks=[Report()])
    history = {k: [round(float(v), 4) for v in vals] for k, vals in hist.history.items()}
    val_acc = None
    if n_val:
        # Measured with the moving BatchNorm statistics (inference mode), as the converted model will run.
        val_acc = float((model.predict(xs[val], batch_size=64, verbose=0).argmax(1) == ys[val]).mean())
    out = Path(config.output)
    model.save(out)
    from calibration.convert import labels_path

    lab = labels_path(out)
    lab.write_text("\n".join(classes) + "\n")
    warnings = []
    if val_acc is not None and no_better_than_chance(val_acc, len(classes), n_val):
        warnings.append(chance_warning(val_acc, len(classes), n_val, np.bincount(ys, minlength=len(classes)).tolist()))
    result = TrainResult(str(out), str(lab), classes, started_from, len(tr), n_val, history, val_acc,
                         time.perf_counter() - started, rate, warnings)
    out.with_name(out.stem + ".train.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return result
