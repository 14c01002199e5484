"""What OpenAI's published API description says about image edits, kept as data for the tests.

Source: github.com/openai/openai-openapi, `openapi.yaml` at commit f85dbe22 (2026-08-21), read 2026-11-30:
`components.schemas.CreateImageEditRequest` (fields, the `model` enum, `size`, `quality`, `background`,
`output_format`, `output_compression`, `user`), `InputFidelity`, `ImagesResponse` / `ImagesUsage` and `Error`.
Where the document is silent (the smallest gpt-image-2 size, whether gpt-image-2 takes `input_fidelity`)
the facts follow OpenAI's image-generation guide and say so. The error answers at the end are not in the
OpenAPI document; they are OpenAI's documented error codes, as the issue (#13) lists them.

The fake server (tests/fake_openai.py) validates requests against these facts, never against the adapter's
own table (app/backends/openai_models.py): when a fact here changes, the adapter must follow or the tests
fail. Change a fact only after reading it in a newer copy of the spec, and update the commit above.
"""

from __future__ import annotations

from dataclasses import dataclass

# CreateImageEditRequest.properties (every field the endpoint takes; `image` and `mask` are file parts).
EDIT_FIELDS = frozenset({"image", "prompt", "mask", "background", "model", "n", "size", "response_format",
                         "output_format", "output_compression", "user", "input_fidelity", "stream",
                         "partial_images", "quality"})
FILE_FIELDS = frozenset({"image", "mask"})
REQUIRED_FIELDS = frozenset({"prompt", "image"})
# CreateImageEditRequest.model: the second anyOf branch's enum, in the spec's order.
MODEL_ENUM = ("gpt-image-1.5", "gpt-image-2", "gpt-image-2-2026-04-21", "dall-e-2", "gpt-image-1",
              "gpt-image-1-mini", "chatgpt-image-latest")
DEFAULT_MODEL = "gpt-image-1.5"
GPT_IMAGE_MODELS = ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2", "gpt-image-2-2026-04-21",
                    "chatgpt-image-latest")
STANDARD_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536))
OUTPUT_FORMATS = frozenset({"png", "jpeg", "webp"})
COMPRESSED_FORMATS = frozenset({"jpeg", "webp"})  # output_compression: "only ... with the webp or jpeg"
OUTPUT_COMPRESSION_RANGE = (0, 100)
INPUT_FIDELITY = frozenset({"high", "low"})  # InputFidelity.enum
N_RANGE = (1, 10)


@dataclass(frozen=True)
class FlexibleSizeFacts:
    """`size` for gpt-image-2: "arbitrary resolutions ... divisible by 16 ... aspect ratio between 1:3 and
    3:1 ... Resolutions above 2560x1440 are experimental, and the maximum supported resolution is
    3840x2160". The smallest size (655,360 pixels) is from the image-generation guide."""

    multiple: int = 16
    max_ratio: float = 3.0
    max_edge: int = 3840
    max_pixels: int = 3840 * 2160
    min_pixels: int = 655_360
    experimental_above_pixels: int = 2560 * 1440

    def allows(self, width: int, height: int) -> bool:
        return (width > 0 and height > 0 and width % self.multiple == 0 and height % self.multiple == 0
                and max(width, height) <= self.max_edge and max(width, height) / min(width, height) <= self.max_ratio
                and self.min_pixels <= width * height <= self.max_pixels)


@dataclass(frozen=True)
class ModelFacts:
    """What one model may be sent."""

    fields: frozenset[str]
    qualities: frozenset[str]
    backgrounds: frozenset[str]
    """Background values generally available."""
    preview_backgrounds: frozenset[str]
    """Values the spec calls a preview for this model (transparent on gpt-image-2)."""
    sizes: tuple[tuple[int, int], ...] | FlexibleSizeFacts
    max_images: int
    input_fidelity: bool


_GPT_FIELDS = EDIT_FIELDS - {"response_format"}  # "only supported for dall-e-2 ... GPT image models always
# return base64-encoded images"
_GPT_QUALITIES = frozenset({"low", "medium", "high", "auto"})
_ALL_BACKGROUNDS = frozenset({"auto", "opaque", "transparent"})

MODELS: dict[str, ModelFacts] = {
    # InputFidelity: "only supported for gpt-image-1 and gpt-image-1.5 and later models, unsupported for
    # gpt-image-1-mini". The guide says gpt-image-2 always works at high fidelity and refuses the parameter.
    "gpt-image-1": ModelFacts(_GPT_FIELDS, _GPT_QUALITIES, _ALL_BACKGROUNDS, frozenset(), STANDARD_SIZES, 16,
                              True),
    "gpt-image-1.5": ModelFacts(_GPT_FIELDS, _GPT_QUALITIES, _ALL_BACKGROUNDS, frozenset(), STANDARD_SIZES, 16,
                                True),
    "gpt-image-1-mini": ModelFacts(_GPT_FIELDS - {"input_fidelity"}, _GPT_QUALITIES, _ALL_BACKGROUNDS,
                                   frozenset(), STANDARD_SIZES, 16, False),
    # "chatgpt-image-latest follows the same input constraints as GPT image models"; the spec does not list
    # it among the models with transparent backgrounds or input fidelity, so neither is allowed here.
    "chatgpt-image-latest": ModelFacts(_GPT_FIELDS - {"input_fidelity"}, _GPT_QUALITIES,
                                       frozenset({"auto", "opaque"}), frozenset(), STANDARD_SIZES, 16, False),
    # background: "For gpt-image-2 and gpt-image-2-2026-04-21, this support is in preview."
    "gpt-image-2": ModelFacts(_GPT_FIELDS - {"input_fidelity"}, _GPT_QUALITIES, frozenset({"auto", "opaque"}),
                              frozenset({"transparent"}), FlexibleSizeFacts(), 16, False),
    "gpt-image-2-2026-04-21": ModelFacts(_GPT_FIELDS - {"input_fidelity"}, _GPT_QUALITIES,
                                         frozenset({"auto", "opaque"}), frozenset({"transparent"}),
                                         FlexibleSizeFacts(), 16, False),
    # "For dall-e-2, you can only provide one image, and it should be a square png file less than 4MB";
    # background, output_format, output_compression and input_fidelity are for GPT image models only.
    "dall-e-2": ModelFacts(frozenset({"image", "prompt", "mask", "model", "n", "size", "response_format",
                                      "user"}), frozenset({"standard"}), frozenset(), frozenset(),
                           ((256, 256), (512, 512), (1024, 1024)), 1, False),
}

# `user`: "A unique identifier representing your end-user, which can help OpenAI to monitor and detect
# abuse." CreateImageEditRequest has no `safety_identifier` (the Responses and Chat requests do, max 64).
CUSTOMER_ID_FIELD = "user"
CUSTOMER_ID_MAX_LENGTH = 64

# ImagesResponse: `created` required; data[].b64_json; usage is ImagesUsage.
RESPONSE_REQUIRED = frozenset({"created"})
USAGE_REQUIRED = frozenset({"total_tokens", "input_tokens", "output_tokens", "input_tokens_details"})
USAGE_INPUT_DETAILS_REQUIRED = frozenset({"text_tokens", "image_tokens"})
# Error: every one of these is present (code and param may be null).
ERROR_REQUIRED = frozenset({"type", "message", "param", "code"})


@dataclass(frozen=True)
class ErrorAnswer:
    """One documented failure: its HTTP status and the `Error` object's type and code."""

    status: int
    type: str
    code: str
    message: str


# OpenAI's documented error codes for the answers the issue names (not in the OpenAPI document).
BILLING_HARD_LIMIT = ErrorAnswer(400, "billing_limit_user_error", "billing_hard_limit_reached",
                                 "Billing hard limit has been reached")
INSUFFICIENT_QUOTA = ErrorAnswer(429, "insufficient_quota", "insufficient_quota",
                                 "You exceeded your current quota, please check your plan and billing details.")
MODERATION_BLOCKED = ErrorAnswer(400, "image_generation_user_error", "moderation_blocked",
                                 "Your request was rejected by the safety system.")
INPUT_FIDELITY_UNSUPPORTED = ErrorAnswer(400, "invalid_request_error", "invalid_input_fidelity_model",
                                         "Input fidelity is not supported for this model.")
