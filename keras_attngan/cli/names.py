"""The registered models, evaluate's metrics and the precisions, spelled out so that
building the parser (and ``--help``) does not import TensorFlow; tests check them against
the registries."""

MODEL_NAMES = ("aggan", "aggan_multidomain", "cyclegan", "dagan", "sat", "uag", "unit",
               "unit_da")
METRIC_NAMES = ("kid", "fid", "is", "psnr", "mse", "ssim", "pixel_accuracy_unit",
                "pixel_accuracy_sat", "mask_iou")
#: ``models.precision.PRECISIONS``
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
