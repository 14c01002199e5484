"""The OpenAI-compatible endpoint's answer, in the shape of OpenAI's ImagesResponse."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ImageDatum(BaseModel):
    b64_json: str = Field(description="the edited image, base64-encoded")


class TokenDetails(BaseModel):
    text_tokens: int
    image_tokens: int


class ImageUsage(BaseModel):
    model_config = ConfigDict(extra="allow")  # the provider's own further counts pass through

    input_tokens: int
    input_tokens_details: TokenDetails
    output_tokens: int
    output_tokens_details: TokenDetails | None = None
    total_tokens: int


class ImagesResponse(BaseModel):
    """OpenAI's ImagesResponse."""

    created: int = Field(description="Unix time the edit was created")
    data: list[ImageDatum] = Field(min_length=1, max_length=1)
    output_format: Literal["png", "jpeg", "webp"]
    quality: Literal["low", "medium", "high"]
    size: str = Field(description="WIDTHxHEIGHT of the image", examples=["1536x1024"])
    usage: ImageUsage = Field(description="the provider's token counts; zeros when the engine uses no tokens")
