"""Write a few images of the Fashion-MNIST test split as PNG files, for the
README's first path (a photo of one's own -> the model's top-5 -> a sweep):
the first test image of each named class, 28x28 grey, as the IDX file has it.
Run from the repository root with Debian's python3-pil."""
import gzip
import os

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
PICK = {1: "trouser", 3: "dress", 7: "sneaker"}

with gzip.open(os.path.join(HERE, "t10k-images-idx3-ubyte.gz")) as f:
    images = f.read()[16:]
with gzip.open(os.path.join(HERE, "t10k-labels-idx1-ubyte.gz")) as f:
    labels = f.read()[8:]
os.makedirs(os.path.join(HERE, "photos"), exist_ok=True)
for label, name in PICK.items():
    i = labels.index(bytes([label]))
    img = Image.frombytes("L", (28, 28), images[i * 784:(i + 1) * 784])
    img.save(os.path.join(HERE, "photos", name + ".png"), optimize=True)
    print(name, "is test image", i)
