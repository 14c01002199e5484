"""Instructions as shop owners, creators and video editors write them, each with the outcome that is right
for the offline engine, and where such wording comes from.

An accepted phrasing lists what the plan must hold, exactly: its operations (an adjustment with its
direction, a frame with its shape, a background colour with its value) and the constraints it keeps. A
refused one names the kind of reason: outside what the engine does (`instruction_not_understood`),
ambiguous, contradictory, needing a generative model, or a thing chosen in the settings. The wording is
written after the sources in `SOURCES` (guides, forum questions, issue threads), not after the parser's
vocabulary. `verdict()` runs one through the parser; test_phrasings.py checks every one, and
`python -m bench phrasings` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.backends.base import BackendRefused
from app.backends.local.parser import parse
from app.backends.local.plan import (
    Adjust,
    BackgroundColour,
    EditPlan,
    Frame,
    FrameSubject,
    Mirror,
    Operation,
    Rotate,
    hex_colour,
)

SOURCES = {
    "issue-11": "issue 11: wording a new user tried in the editor",
    "amazon": "Amazon main-image guides (editthispic.com/guides/amazon-product-photo-requirements, "
    "sellshot.ai/blog/amazon-main-image-requirements, productpolish.ai/blog/glossar/main-image)",
    "shopify": "Shopify photo guides (51-8.com/blog/shopify-product-photography-guide, "
    "catalogcut.com/solutions/shopify-product-photos)",
    "ebay": "'Shooting for eBay', whatdigitalcamera.com (brightness and contrast, colour casts, distractions)",
    "etsy": "Etsy seller blogs (bohointheburbs.blogspot.com 'clutter in the background', "
    "especiallycreativebroad.wordpress.com 'clean white backgrounds')",
    "white-bg": "white-background retouching tutorials (photocolorcorrection.com, perfectphotoblog.com "
    "'is the white background really white', steves-digicams.com)",
    "casts": "colour-cast tutorials (indo-oldschool.blogspot.com 'remove colour casts': fluorescent green, "
    "tungsten yellow; maskonmaskoff.blogspot.com 'colour cast and lighting correction')",
    "blur-forum": "background-blur forum threads (photoshopgurus.com 'blurring the background', "
    "form.pbase.com 'blurring background', retouchpro.com 'background blur')",
    "blur-issues": "issue threads asking for portrait blur (MaskAnyone/MaskAnyone#26 'blur background only, "
    "without blurring person', lovell/sharp#3857, akshitagupta15june/Face-X#222)",
    "shadow": "'Photoshop: remove background and keep shadows', freeworkings.com",
    "jewellery": "jewellery retouching guides (clippingpathzone.com, studiopixelpark.com: reflections, sparkle)",
    "thumbnail": "YouTube thumbnail advice (mrpopular.net 'crop tight, boost contrast', "
    "wealthyeducation.blogspot.com 'bright, bright, bright', inteligence.net)",
    "vertical": "vertical-video guides (edicionvideopro.com 9:16 guide, reelipal.com, trypostbase.com)",
    "grading": "colour-grading pages (vidcutpro.com 'warm nostalgic glow, cool and desaturate', "
    "ruahcreativehouse.org, forum.shotcut.org 'color grading')",
    "pastel": "pastel and nostalgic looks (brilliaz.com 'soft cinematic pastel', "
    "theeditingstudio.co 'warm nostalgic editing style')",
    "linkedin": "LinkedIn headshot guides (editthispic.com/guides/linkedin-profile-photo-guide: centre the "
    "face, neutral background; smprotips.com)",
    "trial": "a new-user trial of this product (issue 11's way of testing): a creator's own words",
    "generative": "requests that need new pixels, as asked on retouching forums (teeth, blemishes, "
    "people in the background, text on the image)",
}

REFUSED = "refused:"


@dataclass(frozen=True)
class Phrasing:
    """One instruction and its right outcome: plan descriptors (see `describe`) or "refused:<code>"."""

    text: str
    expected: frozenset[str]
    source: str
    images: int = 1

    @property
    def refusal(self) -> str | None:
        found = [item[len(REFUSED) :] for item in self.expected if item.startswith(REFUSED)]
        return found[0] if found else None


def accepts(text: str, *plan: str, source: str, images: int = 1) -> Phrasing:
    return Phrasing(text, frozenset(plan), source, images)


def refuses(text: str, code: str, *, source: str, images: int = 1) -> Phrasing:
    return Phrasing(text, frozenset([REFUSED + code]), source, images)


# The kinds of reason, as refusal codes.
OUTSIDE = "instruction_not_understood"
AMBIGUOUS = "ambiguous_instruction"
CONTRADICTORY = "contradictory_instruction"
GENERATIVE = "needs_generative_model"
SETTINGS = "use_settings"
NOTHING = "nothing_to_do"

WHITE = "BackgroundColour:#FFFFFF"
REMOVE = "RemoveBackground"
BLUR = "BlurBackground"
GOLDEN = ("Adjust:warmth+", "Adjust:saturation+", "Adjust:brightness+")

PHRASINGS: tuple[Phrasing, ...] = (
    # The cases of issue 11.
    accepts(
        "Blur the background but keep her glasses and medals sharp", BLUR, "keep:sharp", source="issue-11"
    ),
    accepts("Remove the background, keep the cup and saucer", REMOVE, "keep:subject", source="issue-11"),
    accepts("Remove the background, keep the spoon", REMOVE, "keep:subject", source="issue-11"),
    accepts("Make it warmer, like a sunset", *GOLDEN, source="issue-11"),
    accepts("Make it warmer, like golden hour", *GOLDEN, source="issue-11"),
    accepts(
        "Make it cinematic, 16:9, slightly cooler",
        "Adjust:contrast+",
        "Adjust:saturation-",
        "Adjust:brightness-",
        "Adjust:warmth-",
        "Frame:16:9:crop",
        source="issue-11",
    ),
    accepts(
        "white background, make sure the label text stays readable", WHITE, "keep:sharp", source="issue-11"
    ),
    accepts("Soft blue to purple gradient", "BackgroundGradient", source="issue-11"),
    # Shop owners: marketplaces and their white backgrounds.
    accepts("Pure white background for my Amazon main image", WHITE, source="amazon"),
    accepts("Background RGB 255,255,255 please", WHITE, source="amazon"),
    accepts("Put my candle on a clean white backdrop", WHITE, source="etsy"),
    accepts("Make the background off-white instead of grey", "BackgroundColour:#FAF9F6", source="white-bg"),
    accepts("Isolate the bottle on white", WHITE, source="amazon"),
    accepts("Cut out the sneaker", REMOVE, source="amazon"),
    accepts("Remove the background from my headshot", REMOVE, source="linkedin"),
    accepts("Flat lay on white background", WHITE, source="etsy"),
    accepts("Put the headphones on a light grey studio background", "BackgroundColour:#D3D3D3", source="shopify"),
    accepts("Keep the product colours accurate, white background", WHITE, "keep:colours", source="shopify"),
    accepts("White background, keep the logo on the bottle readable", WHITE, "keep:sharp", source="amazon"),
    accepts("Remove the background but keep the label sharp", REMOVE, "keep:sharp", source="amazon"),
    accepts(
        "Remove the background, keep the cup, saucer and spoon", REMOVE, "keep:subject", source="shopify"
    ),
    accepts(
        "Replace the background with white, keep the engraving on the ring visible",
        WHITE,
        "keep:sharp",
        source="jewellery",
    ),
    accepts(
        "Remove the background and make sure the tag on the sleeve stays legible",
        REMOVE,
        "keep:sharp",
        source="etsy",
    ),
    accepts(
        "White background but leave the stitching and buttons untouched", WHITE, "keep:subject", source="etsy"
    ),
    accepts("Square crop for Shopify on a white background", WHITE, "Frame:1:1:crop", source="shopify"),
    accepts("Crop it square for Etsy", "Frame:1:1:crop", source="etsy"),
    accepts("Zoom in on the product", "FrameSubject:tight", source="amazon"),
    accepts("Crop closer so the necklace fills the frame", "FrameSubject:tight", source="amazon"),
    accepts("Centre the product", "FrameSubject:centre", source="amazon"),
    accepts("Center the watch in the frame", "FrameSubject:centre", source="amazon"),
    accepts("Make it 1:1 but don't cut off the product", "Frame:1:1:extend", source="shopify"),
    accepts("Make it 16:9 without cutting anything off", "Frame:16:9:extend", source="shopify"),
    accepts("White background with a soft shadow under the product", WHITE, "Shadow", source="white-bg"),
    refuses("Remove the background and keep the shadow under the product", OUTSIDE, source="shadow"),
    refuses("Add a drop shadow", OUTSIDE, source="shadow"),
    refuses("remove bg keep the shadow", OUTSIDE, source="shadow"),
    accepts("white background keeping the label readable", WHITE, "keep:sharp", source="amazon"),
    accepts("Extend the background so it's square", "Frame:1:1:extend", source="shopify"),
    refuses("Remove the background but keep the table", CONTRADICTORY, source="shadow"),
    refuses("Remove the reflection on the glass", GENERATIVE, source="jewellery"),
    refuses("Remove the dust and scratches", GENERATIVE, source="jewellery"),
    refuses("Add my logo in the corner", GENERATIVE, source="amazon"),
    refuses("Add text saying SALE", GENERATIVE, source="amazon"),
    refuses("Replace the background with a beach", GENERATIVE, source="generative"),
    refuses("Replace the background with a sunset", GENERATIVE, source="generative"),
    refuses("Sunset background for the perfume", GENERATIVE, source="generative"),
    refuses("Make the background darker", OUTSIDE, source="etsy"),
    refuses("Darken the background", OUTSIDE, source="etsy"),
    refuses("Make the white background brighter", OUTSIDE, source="white-bg"),
    refuses("Make it look professional", AMBIGUOUS, source="amazon"),
    refuses("Make it look more expensive", AMBIGUOUS, source="jewellery"),
    refuses("Make the product stand out more", AMBIGUOUS, source="shopify"),
    refuses("Keep the colours true to the product", NOTHING, source="shopify"),
    refuses("Upscale to 4K for zoom", SETTINGS, source="amazon"),
    refuses("Save as JPEG", SETTINGS, source="amazon"),
    refuses("Make it HD", SETTINGS, source="shopify"),
    # Light and colour: complaints and corrections.
    accepts("The photo is too dark, brighten it up", "Adjust:brightness+", source="ebay"),
    accepts(
        "Make it brighter and more contrasty for the listing", "Adjust:brightness+", "Adjust:contrast+", source="ebay"
    ),
    accepts("Tone down the contrast a bit", "Adjust:contrast-", source="ebay"),
    accepts("Remove the yellow cast from the indoor lighting", "WhiteBalance", source="casts"),
    accepts("Fix the greenish tint from the fluorescent lights", "WhiteBalance", source="casts"),
    accepts("Fix the white balance, the photo was taken indoors", "WhiteBalance", source="casts"),
    accepts("Make it less yellow", "Adjust:warmth-", source="casts"),
    accepts("Cool it down, it looks too warm", "Adjust:warmth-", source="casts"),
    accepts("Colours look washed out, make them pop", "Adjust:saturation+", "Adjust:contrast+", source="ebay"),
    accepts("The photo looks dull and flat", "Adjust:saturation+", "Adjust:contrast+", source="ebay"),
    accepts("Auto enhance", "AutoLevels", source="ebay"),
    accepts("Reduce the noise, it was shot at night", "Denoise", source="ebay"),
    accepts("Sharpen the product photo a little", "Sharpen", source="ebay"),
    accepts("Black and white, high contrast", "BlackAndWhite", "Adjust:contrast+", source="grading"),
    refuses("Make the shadows lighter", OUTSIDE, source="ebay"),
    refuses("Lift the shadows", OUTSIDE, source="grading"),
    refuses("Make the highlights less blown out", OUTSIDE, source="ebay"),
    refuses("Whiten my teeth", GENERATIVE, source="generative"),
    refuses("Remove the blemishes", GENERATIVE, source="generative"),
    refuses("Make the sky bluer", GENERATIVE, source="generative"),
    refuses("Make the grass greener", GENERATIVE, source="generative"),
    refuses("Make it look aesthetic", AMBIGUOUS, source="pastel"),
    refuses("Make it more eye-catching", AMBIGUOUS, source="thumbnail"),
    # Backgrounds for people: blur, headshots.
    accepts("Blur the background, keep my face in focus", BLUR, "keep:sharp", source="blur-forum"),
    accepts("Blur the background but don't blur her hair", BLUR, "keep:sharp", source="blur-issues"),
    accepts("Blur the background only, without blurring the person", BLUR, "keep:sharp", source="blur-issues"),
    accepts("Bokeh background like portrait mode", BLUR, source="blur-issues"),
    accepts(
        "Blur the background a little but keep his beard and jacket sharp",
        "BlurBackground",
        "keep:sharp",
        source="blur-forum",
    ),
    accepts("Keep the face in focus and blur the background", "keep:sharp", BLUR, source="blur-issues"),
    accepts("Make my headshot background a neutral grey", "BackgroundColour:#808080", source="linkedin"),
    accepts(
        "LinkedIn profile picture with a plain light grey background",
        "BackgroundColour:#D3D3D3",
        "FrameSubject:centre",
        "Frame:1:1:crop",
        source="linkedin",
    ),
    refuses("Blur the background but keep the sky sharp", CONTRADICTORY, source="blur-forum"),
    refuses("Remove the people in the background", GENERATIVE, source="generative"),
    refuses("Make me look thinner", GENERATIVE, source="generative"),
    refuses(
        "Make it black and white but keep the red dress in colour", CONTRADICTORY, source="grading"
    ),
    # Creators: looks and moods.
    accepts("Make it look like golden hour", *GOLDEN, source="grading"),
    accepts("Sunset vibes", *GOLDEN, source="pastel"),
    accepts("Warm sunset tones", *GOLDEN, source="pastel"),
    accepts("Make it warmer like the sun is setting", *GOLDEN, source="grading"),
    accepts("Make it look like a sunny day", *GOLDEN, source="pastel"),
    accepts("Make it feel like summer", "Adjust:warmth+", "Adjust:saturation+", "Adjust:brightness+", source="pastel"),
    accepts(
        "Give it a cold winter feel", "Adjust:warmth-", "Adjust:saturation-", "Adjust:brightness+", source="grading"
    ),
    accepts(
        "Warm cozy tones for autumn",
        "Adjust:warmth+",
        "Adjust:brightness-",
        "Adjust:saturation+",
        source="pastel",  # autumn's extra contrast and cosy's softer one cancel out
    ),
    accepts(
        "Light and airy", "Adjust:brightness+", "Adjust:contrast-", "Adjust:saturation-", source="pastel"
    ),
    accepts(
        "Cinematic look, a bit darker",
        "Adjust:contrast+",
        "Adjust:saturation-",
        "Adjust:brightness-",
        source="grading",
    ),
    accepts(
        "Give it a cinematic colour grade",
        "Adjust:contrast+",
        "Adjust:saturation-",
        "Adjust:brightness-",
        source="grading",
    ),
    accepts("Give it a film look", "Adjust:contrast-", "Adjust:saturation-", "Sepia", source="grading"),
    accepts(
        "Make it moody and dark",
        "Adjust:brightness-",
        "Adjust:saturation-",
        "Adjust:warmth-",
        "Adjust:contrast+",
        source="grading",
    ),
    accepts("Sepia please", "Sepia", source="grading"),
    accepts("Slightly desaturated, muted tones", "Adjust:saturation-", source="pastel"),
    accepts("Cool and desaturated", "Adjust:warmth-", "Adjust:saturation-", source="grading"),
    refuses("Make it moody but keep the colours", CONTRADICTORY, source="grading"),
    refuses("Make it look like a movie poster", GENERATIVE, source="grading"),
    refuses("Make it look like a watercolour painting", GENERATIVE, source="generative"),
    refuses("Give it a dreamy glow", OUTSIDE, source="pastel"),
    # Backdrops in colour: soft, pastel, muted.
    accepts("Put a pastel pink background behind the perfume bottle", "BackgroundColour:#FFD1DC", source="pastel"),
    accepts("Pastel pink to baby blue gradient background", "BackgroundGradient", source="pastel"),
    accepts("Soft gradient from peach to lavender behind the candle", "BackgroundGradient", source="pastel"),
    accepts("Light grey gradient background", "BackgroundGradient", source="shopify"),
    accepts("Muted green background", "BackgroundColour:#235D23", source="pastel"),
    accepts("Soft blue background for my product shots", "BackgroundColour:#9F9FDF", source="pastel"),
    accepts("Dusty rose background", "BackgroundColour:#D194A8", source="pastel"),
    accepts("Make the background a soft beige", "BackgroundColour:#F4F4DD", source="pastel"),
    accepts("Sage green backdrop for my candles", "BackgroundColour:#B2AC88", source="etsy"),
    # Video editors and thumbnails: frames.
    accepts(
        "Crop to 16:9 for a YouTube thumbnail, make it brighter",
        "Adjust:brightness+",
        "Frame:16:9:crop",
        source="thumbnail",
    ),
    accepts(
        "YouTube thumbnail, boost the contrast and saturation",
        "Frame:16:9:crop",
        "Adjust:contrast+",
        "Adjust:saturation+",
        source="thumbnail",
    ),
    accepts("Make it a vertical 9:16 for TikTok", "Frame:9:16:crop", source="vertical"),
    accepts("Reframe it for Reels", "Frame:9:16:crop", source="vertical"),
    accepts("Convert to 4:5 for Instagram feed", "Frame:4:5:crop", source="vertical"),
    accepts("Extend it to 9:16 so nothing gets cropped", "Frame:9:16:extend", source="vertical"),
    accepts("Make it cinematic", "Frame:21:9:crop", source="grading"),
    accepts("Rotate it 90 degrees", "Rotate:90", source="vertical"),
    accepts("It's upside down, fix it", "Rotate:180", source="ebay"),
    accepts("Flip it horizontally", "Mirror:horizontal", source="thumbnail"),
    accepts("Make it a YouTube thumbnail, keep me centred", "Frame:16:9:crop", "FrameSubject:centre", "keep:subject",
            source="trial"),
    refuses("YouTube thumbnail and Instagram story", CONTRADICTORY, source="trial"),
    refuses("Make it a horizontal 9:16", CONTRADICTORY, source="vertical"),
    refuses("Crop to 16:9 but don't crop", CONTRADICTORY, source="vertical"),
    refuses("Straighten the horizon", OUTSIDE, source="ebay"),
    refuses("Add black bars like a movie", GENERATIVE, source="grading"),
    refuses("Make the colours pop on the thumbnail and add an arrow", GENERATIVE, source="thumbnail"),
)


def describe(plan: EditPlan) -> frozenset[str]:
    """A plan as descriptors: each operation (with the direction, shape or colour that matters) and each
    constraint it keeps."""

    def one(op: Operation) -> str:
        if isinstance(op, Adjust):
            return f"Adjust:{op.kind}{'+' if op.amount > 0 else '-'}"
        if isinstance(op, Frame):
            return f"Frame:{op.aspect[0]}:{op.aspect[1]}:{op.mode}"
        if isinstance(op, FrameSubject):
            return f"FrameSubject:{'tight' if op.tight else 'centre'}"
        if isinstance(op, BackgroundColour):
            return f"BackgroundColour:{hex_colour(op.colour)}"
        if isinstance(op, Rotate):
            return f"Rotate:{op.degrees}"
        if isinstance(op, Mirror):
            return f"Mirror:{op.axis}"
        return type(op).__name__

    kept = {
        "keep:colours": plan.keep_colours,
        "keep:background": plan.keep_background,
        "keep:subject": plan.keep_subject,
        "keep:sharp": plan.keep_sharp,
        "no_crop": plan.no_crop and not plan.find(Frame),
        "keep:aspect": plan.keep_aspect,
    }
    return frozenset([one(op) for op in plan.operations] + [name for name, on in kept.items() if on])


def outcome(phrasing: Phrasing) -> frozenset[str]:
    """What the parser answers, in the same terms as `Phrasing.expected`."""
    try:
        return describe(parse(phrasing.text, phrasing.images))
    except BackendRefused as refused:
        return frozenset([REFUSED + refused.code])


ACCEPTED_RIGHT, REFUSED_RIGHT, WRONG = "accepted right", "refused right", "wrong"


def verdict(phrasing: Phrasing) -> str:
    """Accepted right, refused right, or wrong (a different plan, a wrong reason, or a fake acceptance)."""
    if outcome(phrasing) != phrasing.expected:
        return WRONG
    return REFUSED_RIGHT if phrasing.refusal else ACCEPTED_RIGHT
