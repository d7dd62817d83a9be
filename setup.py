"""Installs the `backbones` and `detector` packages; `make` does it in a virtual environment."""

from setuptools import find_packages, setup

# opencv-python-headless (pulled in by albumentations) and the contrib build write the same cv2/
# folder; both are pinned to one release and the Makefile re-installs the contrib build last, so
# that cv2.ximgproc (selective search) is present. Keep OPENCV_VERSION on one line: the Makefile
# reads it.
OPENCV_VERSION = "5.0.0.93"

setup(
    name="googlenet-detector",
    version="0.1.0",
    description="The ILSVRC 2014 GoogLeNet classifier and R-CNN-style detector, in PyTorch",
    python_requires=">=3.10",
    packages=find_packages(include=["backbones", "backbones.*", "detector", "detector.*"]),
    install_requires=[
        "torch==2.14.1",  # the network, training, DDP; the release this workplace serves
        "torchvision==0.29.1",  # ops (nms, roi_align, box_iou) and the reference googlenet
        f"opencv-contrib-python-headless=={OPENCV_VERSION}",  # selective search (cv2.ximgproc)
        f"opencv-python-headless=={OPENCV_VERSION}",  # what albumentations requires, same release
        "albumentations==2.0.8",  # training augmentation of images, boxes and proposals together
        "pycocotools>=2.0.8",  # COCO mAP, exactly as the benchmark computes it
        "numpy>=1.26",
        "scipy>=1.11",  # bipartite matching for MultiBox (linear_sum_assignment)
        "PyYAML>=6.0",  # configs, read with yaml.safe_load only
        "tqdm>=4.66",  # progress bars
        "matplotlib>=3.8",  # training curves, precision-recall plots
        "pillow>=10.0",  # reading palette/16-bit images that OpenCV mishandles
        "onnx==1.23.2",  # reading BVLC GoogLeNet (.onnx) by topology; writing exports
        "onnxscript==0.7.2",  # torch.onnx.export's exporter (translating LRN and the global pool)
        "onnxruntime==1.32.0",  # CPU runtime: checks every export, --runtime onnxruntime
        "tensorboard==2.21.0",  # event files the trainers write (torch.utils.tensorboard)
        "ensemble-boxes==1.0.9",  # weighted boxes fusion, NMW, soft-NMS of members' detections
    ],
    entry_points={"console_scripts": ["googlenet-det = detector.commands.main:entry_point"]},
    extras_require={
        "dev": [
            "pytest>=8.0",  # the test suite
            "ruff==0.17.6",  # the one formatter and linter (ruff.toml); pinned so rules do not drift
            "import-linter==2.17",  # the layers of .importlinter, checked by `make test`
            "setuptools>=70",  # tests build the wheel without build isolation (no second torch install)
        ],
    },
)
