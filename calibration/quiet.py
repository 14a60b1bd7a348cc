"""TensorFlow without its chatter: the verbs' own output and real errors stay, the noise goes.

``TF_CPP_MIN_LOG_LEVEL`` (set in ``calibration/__init__``) silences TensorFlow's C++ logging once
absl is initialised, but not what comes before or beside it, written by native code straight to file
descriptor 2 where no Python setting reaches: absl's "All log messages before absl::InitializeLog()",
oneDNN's and the CPU feature guard's notices at import (twice: TensorFlow and its converter each
carry a copy), the converter's ``fully_quantize: 0, inference_type: 6, ...`` line, and LiteRT's
"Created TensorFlow Lite XNNPACK delegate". :func:`native_chatter_filtered` points descriptor 2 at a
temporary file around the calls that print them and writes back every line that is not one of those,
so a warning or an error from the same code still reaches the terminal (all of it if the block
raises). The user's own ``TF_CPP_MIN_LOG_LEVEL`` still wins for the C++ logging it controls.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings

# Whole lines that are only noise. Absl's INFO lines before its initialisation look like
# "I0000 00:00:1796186166.139340   10360 port.cc:153] oneDNN custom operations are on. ...".
CHATTER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."
    r"|fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    r")"
)
# Python warnings TensorFlow raises on every full-int8 conversion (and in its quantization debugger,
# which runs tf.lite.Interpreter) that say nothing to a user of edgenet.
_WARNINGS = (
    r"Statistics for quantized inputs were expected, but not specified; continuing anyway\.",
    r"\s*Warning: tf\.lite\.Interpreter is deprecated",
)


def drop_chatter(text: str) -> str:
    """``text`` without the chatter lines (line ends kept)."""
    return "".join(line for line in text.splitlines(keepends=True) if not CHATTER.match(line))


@contextlib.contextmanager
def native_chatter_filtered():
    """Capture file descriptor 2 for the block; write back what is not chatter (everything on error)."""
    try:
        fd = sys.__stderr__.fileno() if sys.__stderr__ is not None else 2
    except (AttributeError, OSError, ValueError):  # no real descriptor (an embedding host): nothing to filter
        yield
        return
    for stream in (sys.stdout, sys.stderr, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(fd)
    failed = False
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            with warnings.catch_warnings():
                for message in _WARNINGS:
                    warnings.filterwarnings("ignore", message=message)
                yield
        except BaseException:
            failed = True
            raise
        finally:
            for stream in (sys.stderr, sys.__stderr__):
                with contextlib.suppress(Exception):
                    stream.flush()
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace")
            kept = text if failed else drop_chatter(text)
            if kept:
                os.write(fd, kept.encode())


def tensorflow():
    """``import tensorflow`` without its import-time notices; its Python loggers at ERROR."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with native_chatter_filtered():
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        with contextlib.suppress(ImportError):
            from absl import logging as absl_logging

            absl_logging.set_verbosity(absl_logging.ERROR)
    return tf


def keras():
    """``import keras`` (which imports TensorFlow) without the notices."""
    tensorflow()
    import keras as k

    return k
