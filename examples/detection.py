"""Object detection: images with a variable number of boxes per image, batched with the list collate.

Boxes cannot be stacked (each image has 0..12 of them), so images are stacked and the targets kept
as a list of dicts (``dltune.make_collate("list")``), the torchvision detection convention.

    dltune bench examples/detection.py
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import Dataset

import dltune

SIZE = 320
COUNT = 400


class Shapes(Dataset):
    """Rectangles and ellipses on a noisy background, drawn per sample; targets in (x1, y1, x2, y2)."""

    def __len__(self) -> int:
        return COUNT

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        rng = np.random.default_rng(index)
        img = Image.fromarray(rng.integers(0, 60, (SIZE, SIZE, 3), dtype=np.uint8))
        draw = ImageDraw.Draw(img)
        n = int(rng.integers(0, 13))
        boxes, labels = [], []
        for _ in range(n):
            x1, y1 = rng.integers(0, SIZE - 40, size=2)
            w, h = rng.integers(16, 120, size=2)
            box = [int(x1), int(y1), int(min(SIZE - 1, x1 + w)), int(min(SIZE - 1, y1 + h))]
            label = int(rng.integers(1, 3))
            fill = tuple(int(v) for v in rng.integers(80, 255, size=3))
            (draw.rectangle if label == 1 else draw.ellipse)(box, fill=fill)
            boxes.append(box)
            labels.append(label)
        if np.random.rand() < 0.5:  # horizontal flip, boxes flipped with the image
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            boxes = [[SIZE - 1 - b[2], b[1], SIZE - 1 - b[0], b[3]] for b in boxes]
        image = torch.from_numpy(np.asarray(img).transpose(2, 0, 1).copy()).float().div_(255)
        target = {
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(labels, dtype=torch.int64),
        }
        return image, target


dataset = Shapes
collate_fn = dltune.make_collate("list")

if __name__ == "__main__":
    loader = dltune.build_loader(dataset(), dltune.LoaderConfig(batch_size=8, num_workers=2, collate="list"))
    images, targets = next(iter(loader))
    print(f"images {tuple(images.shape)}; boxes per image: {[len(t['boxes']) for t in targets]}")
