"""Image-folder classification: JPEG decode, random crop, flip and normalise (Pillow + numpy).

The torchvision ``ImageFolder`` + ``RandomResizedCrop`` pipeline most vision models start from, with
the work done per sample in the worker: CPU-bound, so it scales with workers up to the usable cores.
On first use it writes ``IMAGES`` synthetic JPEGs into examples/data/image_folder/<class>/.

    dltune bench examples/image_folder.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).parent))
from _data import ensure  # noqa: E402

CLASSES = ("cat", "dog", "bird", "fish")
IMAGES = int(os.environ.get("DLTUNE_EXAMPLE_IMAGES", "1000"))
SIZE, CROP = 256, 224
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _make_images(folder: Path) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for i in range(IMAGES):
        label = CLASSES[i % len(CLASSES)]
        (folder / label).mkdir(exist_ok=True)
        # smooth colour fields plus noise: compresses like a photo, not like flat colour
        f = rng.uniform(0.01, 0.05, size=3)
        img = np.stack([127 + 100 * np.sin(xx * f[c] + yy * f[(c + 1) % 3] + i) for c in range(3)], axis=-1)
        img += rng.normal(0, 12, img.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
            folder / label / f"{i:05d}.jpg", quality=90
        )


class ImageFolder(Dataset):
    def __init__(self, root: Path, train: bool = True) -> None:
        self.samples = sorted((p, CLASSES.index(p.parent.name)) for p in root.glob("*/*.jpg"))
        self.targets = [label for _, label in self.samples]
        self.train = train

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        with Image.open(path) as im:
            img = im.convert("RGB")
        # numpy's global stream: DataLoader seeds it per worker, so a seeded loader repeats exactly
        x, y = (int(v) for v in np.random.randint(0, SIZE - CROP + 1, size=2))
        img = img.crop((x, y, x + CROP, y + CROP))
        if np.random.rand() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        arr = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
        return torch.from_numpy(arr.transpose(2, 0, 1).copy()), label


def dataset() -> ImageFolder:
    return ImageFolder(ensure(f"image_folder-{IMAGES}", _make_images))


if __name__ == "__main__":
    import dltune

    loader = dltune.build_loader(dataset(), dltune.LoaderConfig(batch_size=32, shuffle=True, num_workers=2))
    images, labels = next(iter(loader))
    print(
        f"{len(loader.dataset)} images; a batch: {tuple(images.shape)} {images.dtype}, labels {labels.tolist()[:8]}..."
    )
