"""How much memory an edit may take, and a budget that keeps the edits of one process inside it.

Each edit estimates its peak from what it will hold (the stored files, every input at its working size,
the largest input fully decoded for a moment) and from what its backend works with (a fixed part and a
part per working pixel), and reserves that many bytes from the process's budget before it decodes
anything. However many workers a process runs, the edits running at once then fit in `EDIT_MEMORY_MB`;
an edit that alone exceeds the budget waits until it can take all of it, and runs alone.
"""

from __future__ import annotations

import collections
import contextlib
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from app.editor.output import working_size
from app.editor.validation import read_header, sniff_format

MB = 2**20
# The runner's own share per output pixel: the backend's result, the fitted copy and the encoded file.
RUNNER_BYTES_PER_PIXEL = 12
# What a backend that says nothing about itself is taken to need (a remote service: it sends the inputs
# and decodes one result).
DEFAULT_FIXED_BYTES = 32 * MB
DEFAULT_BYTES_PER_PIXEL = 16
# Pillow keeps an 8-bit RGB or RGBA pixel in four bytes; a transparent input reduced at decode exists
# twice for a moment (straight and premultiplied).
DECODED_PIXEL_BYTES = 4
REDUCE_COPIES = 2
JPEG_SCALES = (8, 4, 2, 1)  # libjpeg decodes at 1/8, 1/4, 1/2 or full size (Pillow's `draft`)
UNKNOWN = 2**62


@dataclass(frozen=True)
class StoredInput:
    """What the runner knows of an input before decoding it: its file and its declared size."""

    format: str
    """"png", "jpeg" or "webp"."""
    size: tuple[int, int]
    file_bytes: int


def edit_bytes(inputs: Sequence[StoredInput], output_size: tuple[int, int], *, fixed_bytes: int = DEFAULT_FIXED_BYTES,
               bytes_per_pixel: float = DEFAULT_BYTES_PER_PIXEL) -> int:
    """The peak memory of one edit, estimated before it starts.

    The inputs are decoded one after the other, each reduced to its working size (see
    `output.working_size`) and kept; the backend then works at the larger of the output and the main
    input's working size. The peak is the larger of the two phases, plus the stored files held throughout.
    """
    files = sum(item.file_bytes for item in inputs)
    held = 0
    decode_peak = 0
    main_working = 0
    for index, item in enumerate(inputs):
        width, height = working_size(item.size, output_size)
        working = width * height
        decoded = _decoded_pixels(item, (width, height))
        copies = REDUCE_COPIES if decoded > working else 1
        decode_peak = max(decode_peak, held + decoded * DECODED_PIXEL_BYTES * copies + working * DECODED_PIXEL_BYTES)
        held += working * DECODED_PIXEL_BYTES
        if index == 0:
            main_working = working
    pixels = max(output_size[0] * output_size[1], main_working)
    runner = RUNNER_BYTES_PER_PIXEL * output_size[0] * output_size[1]
    work = held + fixed_bytes + math.ceil(bytes_per_pixel * pixels) + runner
    return files + max(decode_peak, work)


def edit_estimate(files: Sequence[bytes], output_size: tuple[int, int], backend: object) -> int:
    """`edit_bytes` for stored files, read from their headers, with the backend's declared cost
    (`memory_fixed_bytes` and `memory_bytes_per_pixel` attributes, when it has them). A file whose header
    cannot be read counts as more than any budget: its edit runs alone, and fails as it will."""
    inputs = []
    for data in files:
        fmt = sniff_format(data[:16])
        try:
            if fmt is None:
                raise ValueError("not an image")
            header = read_header(data, fmt)
        except (OSError, SyntaxError, ValueError):
            return UNKNOWN
        inputs.append(StoredInput(fmt, (header.width, header.height), len(data)))
    return edit_bytes(inputs, output_size, fixed_bytes=getattr(backend, "memory_fixed_bytes", DEFAULT_FIXED_BYTES),
                      bytes_per_pixel=getattr(backend, "memory_bytes_per_pixel", DEFAULT_BYTES_PER_PIXEL))


def _decoded_pixels(item: StoredInput, working: tuple[int, int]) -> int:
    """Pixels decoded before any reduction: a JPEG at the smallest DCT scale that still covers its
    working size, anything else in full."""
    width, height = item.size
    if item.format == "jpeg":
        for scale in JPEG_SCALES:
            if math.ceil(width / scale) >= working[0] and math.ceil(height / scale) >= working[1]:
                return math.ceil(width / scale) * math.ceil(height / scale)
    return width * height


class MemoryBudget:
    """A semaphore counted in bytes, first come first served.

    `reserve(n)` blocks until n bytes are free and no earlier reservation is still waiting, so a large edit
    is never starved by a stream of small ones; a reservation larger than the whole budget takes the whole
    budget (it runs alone rather than never).
    """

    def __init__(self, total_bytes: int) -> None:
        if total_bytes <= 0:
            raise ValueError("a memory budget needs a positive size")
        self.total = total_bytes
        self._free = total_bytes
        self._waiting: collections.deque[object] = collections.deque()
        self._changed = threading.Condition()

    @property
    def free(self) -> int:
        """Bytes not reserved at the moment."""
        with self._changed:
            return self._free

    @property
    def waiting(self) -> int:
        """Reservations queued for memory at the moment."""
        with self._changed:
            return len(self._waiting)

    @contextlib.contextmanager
    def reserve(self, nbytes: int) -> Iterator[int]:
        """Hold `nbytes` (at most the whole budget) for the duration of the block; yields what was taken."""
        taken = min(max(0, nbytes), self.total)
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
            try:
                self._changed.wait_for(lambda: self._waiting[0] is ticket and self._free >= taken)
            finally:
                self._waiting.remove(ticket)
                self._changed.notify_all()  # the next in line may fit too (or be first now)
            self._free -= taken
        try:
            yield taken
        finally:
            with self._changed:
                self._free += taken
                self._changed.notify_all()


_budgets: dict[int, MemoryBudget] = {}
_budgets_lock = threading.Lock()


def process_budget(megabytes: int) -> MemoryBudget:
    """The budget shared by every worker of this process (one per configured size)."""
    with _budgets_lock:
        budget = _budgets.get(megabytes)
        if budget is None:
            budget = _budgets[megabytes] = MemoryBudget(megabytes * MB)
        return budget
