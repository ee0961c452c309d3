"""Images of six simple shapes, drawn from a seed with NumPy coordinate maths.

Each image is RGB, `size x size`, with one shape of random size, position,
rotation and colour on a background of another colour, plus Gaussian pixel
noise. A shape is a mask in its own coordinates `(u, v)`, where the shape's
radius is 1. A pixel's value is the share of its `SUPERSAMPLE x SUPERSAMPLE`
sample points inside the mask, which smooths the edges.

The same seed gives the same images with the same NumPy build on the same
CPU. NOTE: NumPy may pick other SIMD code for `sin` and `cos` on another CPU,
and a last-bit difference there can flip a sample point on an edge.
"""

import numpy as np

CLASSES = ("circle", "square", "triangle", "cross", "ring", "stripes")
DEFAULT_SIZE = 32
SUPERSAMPLE = 4  # sample points per pixel along each axis
CHUNK = 256  # images drawn at once: 256 x 128 x 128 float64 is 32 MB per array

# Ranges of the random draws of `make_shapes`. The radius is a share of the
# image side, and the centre keeps the whole shape inside the image.
MIN_RADIUS, MAX_RADIUS = 0.2, 0.38
MAX_NOISE = 0.08  # standard deviation of the pixel noise, on the [0, 1] scale
# Shape and background colours at least this far apart in RGB, so that no
# shape is invisible. Two uniform colours are closer than 0.5 about 28% of
# the time (measured over a million pairs), and those pairs are drawn again.
MIN_CONTRAST = 0.5

# Geometry in units of the radius.
SQUARE_HALF_SIDE = 0.8
CROSS_HALF_WIDTH = 0.3
RING_INNER = 0.55
STRIPES_HALF_SIDE = 0.9
STRIPE_BANDS = 5  # three bars and the two gaps between them
# The farthest point of any shape from its centre: a corner of the stripes.
EXTENT = STRIPES_HALF_SIDE * np.sqrt(2)


def _circle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u * u + v * v <= 1


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) <= SQUARE_HALF_SIDE


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # An equilateral triangle with its corners on the unit circle is the
    # intersection of three half-planes at distance 1/2 from the centre.
    inside = np.ones(u.shape, dtype=bool)
    for k in range(3):
        angle = np.pi / 2 + 2 * np.pi * k / 3
        inside &= u * np.cos(angle) + v * np.sin(angle) <= 0.5
    return inside


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    a, b = np.abs(u), np.abs(v)
    w = CROSS_HALF_WIDTH
    return ((a <= w) & (b <= 1)) | ((b <= w) & (a <= 1))


def _ring(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    r2 = u * u + v * v
    return (r2 <= 1) & (r2 >= RING_INNER**2)


def _stripes(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    half = STRIPES_HALF_SIDE
    inside = np.maximum(np.abs(u), np.abs(v)) <= half
    band = np.floor((u + half) / (2 * half / STRIPE_BANDS))
    return inside & (band % 2 == 0)


MASKS = {"circle": _circle, "square": _square, "triangle": _triangle,
         "cross": _cross, "ring": _ring, "stripes": _stripes}


def draw_shapes(labels: np.ndarray, centres: np.ndarray, radii: np.ndarray,
                angles: np.ndarray, colours: np.ndarray,
                backgrounds: np.ndarray, noise: np.ndarray,
                rng: np.random.Generator,
                size: int = DEFAULT_SIZE) -> np.ndarray:
    """Draw one shape per image and return float32 `(N, 3, size, size)` in [0, 1].

    labels: `(N,)` indices into `CLASSES`. centres: `(N, 2)` as `(x, y)` in
    pixels, with `(0, 0)` the top-left corner of the image. radii: `(N,)` in
    pixels. angles: `(N,)` counter-clockwise rotations in radians. colours
    and backgrounds: `(N, 3)` RGB in [0, 1]. noise: `(N,)` standard
    deviations of the Gaussian noise drawn from `rng`.
    """
    N = len(labels)
    images = np.empty((N, 3, size, size), dtype=np.float32)
    for start in range(0, N, CHUNK):
        part = slice(start, start + CHUNK)
        coverage = _coverage(labels[part], centres[part], radii[part],
                             angles[part], size)  # (n, H, W)
        alpha = coverage[:, None]  # (n, 1, H, W)
        shape = colours[part, :, None, None]  # (n, 3, 1, 1)
        ground = backgrounds[part, :, None, None]
        image = ground + alpha * (shape - ground)  # (n, 3, H, W)
        image += noise[part, None, None, None] * rng.standard_normal(image.shape)
        images[part] = np.clip(image, 0, 1)
    return images


def _coverage(labels: np.ndarray, centres: np.ndarray, radii: np.ndarray,
              angles: np.ndarray, size: int) -> np.ndarray:
    """Return the share of each pixel inside its image's shape, `(n, H, W)`."""
    # Sample points at the centres of a SUPERSAMPLE x finer grid, in pixels.
    points = (np.arange(size * SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    dx = points[None, None, :] - centres[:, 0, None, None]  # (n, 1, S)
    dy = points[None, :, None] - centres[:, 1, None, None]  # (n, S, 1)
    cos = (np.cos(angles) / radii)[:, None, None]
    sin = (np.sin(angles) / radii)[:, None, None]
    # Image rows grow downwards, so y is negated to rotate counter-clockwise.
    u = dx * cos - dy * sin  # (n, S, S)
    v = -dx * sin - dy * cos
    inside = np.zeros(u.shape, dtype=bool)
    for label, name in enumerate(CLASSES):
        rows = labels == label
        if rows.any():
            inside[rows] = MASKS[name](u[rows], v[rows])
    n, s = len(labels), SUPERSAMPLE
    blocks = inside.reshape(n, size, s, size, s)
    return blocks.mean(axis=(2, 4), dtype=np.float32)


def make_shapes(n: int, seed: int,
                size: int = DEFAULT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Generate `n` random shape images with balanced classes.

    Returns `X` float32 `(n, 3, size, size)` in [0, 1] and labels `y` int64
    `(n,)`, indices into `CLASSES`. Every class gets `n // 6` or one more
    images, in random order.
    """
    if n < 1:
        raise ValueError(f"the number of images must be >= 1, got {n}")
    if size < 8:
        raise ValueError(f"the image size must be >= 8 pixels, got {size}")
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % len(CLASSES))
    radii = rng.uniform(MIN_RADIUS, MAX_RADIUS, n) * size
    reach = EXTENT * radii[:, None]  # (n, 1), less than size / 2
    centres = rng.uniform(reach, size - reach, (n, 2))
    angles = rng.uniform(0, 2 * np.pi, n)
    colours, backgrounds = _contrasting_colours(n, rng)
    noise = rng.uniform(0, MAX_NOISE, n)
    X = draw_shapes(y, centres, radii, angles, colours, backgrounds, noise,
                    rng, size)
    return X, y


def _contrasting_colours(n: int,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw `n` pairs of uniform RGB colours at least `MIN_CONTRAST` apart."""
    colours = rng.uniform(0, 1, (n, 3))
    backgrounds = rng.uniform(0, 1, (n, 3))
    close = np.linalg.norm(colours - backgrounds, axis=1) < MIN_CONTRAST
    while close.any():
        colours[close] = rng.uniform(0, 1, (close.sum(), 3))
        backgrounds[close] = rng.uniform(0, 1, (close.sum(), 3))
        close = np.linalg.norm(colours - backgrounds, axis=1) < MIN_CONTRAST
    return colours, backgrounds


def draw_shape(name: str, radius: float = 0.35, angle_degrees: float = 0.0,
               colour: tuple[float, float, float] = (1.0, 0.8, 0.1),
               background: tuple[float, float, float] = (0.1, 0.1, 0.3),
               noise: float = 0.0, seed: int = 0, size: int = DEFAULT_SIZE,
               centre: tuple[float, float] | None = None) -> np.ndarray:
    """Draw one shape and return float32 `(3, size, size)` in [0, 1].

    `radius` is a share of the image side, `centre` is `(x, y)` as shares
    of the side (the middle when None), and `noise` is the standard
    deviation of the pixel noise drawn from `seed`.
    """
    if name not in CLASSES:
        raise ValueError(
            f"unknown shape {name!r}; expected one of {', '.join(CLASSES)}")
    if not 0 < radius <= 0.5:
        raise ValueError(f"radius must be in (0, 0.5] of the side, got {radius}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    x, y = (0.5, 0.5) if centre is None else centre
    image = draw_shapes(
        np.array([CLASSES.index(name)]), np.array([[x * size, y * size]]),
        np.array([radius * size]), np.array([np.deg2rad(angle_degrees)]),
        np.array([colour], dtype=float), np.array([background], dtype=float),
        np.array([noise]), np.random.default_rng(seed), size)
    return image[0]
