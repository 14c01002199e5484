"""The words the offline engine understands.

Each phrase (one to four lower-case words) maps to a concept tag and an optional value; the parser reads
the longest phrase first, so "black and white" wins over "black". Words that carry no meaning of their
own ("please", "the", "photo") are filler. A word that is neither is not understood, and the whole
instruction is refused: the engine never guesses.
"""

from __future__ import annotations

import colorsys

from PIL import ImageColor

# Intensity levels, as multiples of an operation's default amount.
SLIGHT, NORMAL, STRONG, EXTREME = "slight", "normal", "strong", "extreme"

# Output shapes people ask for by name: phrase -> ((w, h), label shown in the plan).
PRESETS: dict[str, tuple[tuple[int, int], str]] = {
    "instagram story": ((9, 16), "Instagram story"),
    "instagram stories": ((9, 16), "Instagram story"),
    "insta story": ((9, 16), "Instagram story"),
    "story": ((9, 16), "story"),
    "stories": ((9, 16), "story"),
    "instagram reel": ((9, 16), "Instagram reel"),
    "reel": ((9, 16), "reel"),
    "reels": ((9, 16), "reel"),
    "tiktok": ((9, 16), "TikTok"),
    "youtube short": ((9, 16), "YouTube Short"),
    "youtube shorts": ((9, 16), "YouTube Short"),
    "vertical video": ((9, 16), "vertical video"),
    "phone wallpaper": ((9, 16), "phone wallpaper"),
    "youtube thumbnail": ((16, 9), "YouTube thumbnail"),
    "video thumbnail": ((16, 9), "video thumbnail"),
    "thumbnail": ((16, 9), "thumbnail"),
    "widescreen": ((16, 9), "widescreen"),
    "video reference": ((16, 9), "video reference"),
    "desktop wallpaper": ((16, 9), "desktop wallpaper"),
    "instagram post": ((1, 1), "Instagram post"),
    "instagram square": ((1, 1), "Instagram post"),
    "square": ((1, 1), "square"),
    "instagram portrait": ((4, 5), "Instagram portrait"),
    "instagram landscape": ((191, 100), "Instagram landscape"),
    "facebook story": ((9, 16), "Facebook story"),
    "snapchat": ((9, 16), "Snapchat"),
    "linkedin profile photo": ((1, 1), "LinkedIn profile photo"),
    "linkedin profile picture": ((1, 1), "LinkedIn profile photo"),
    "linkedin profile pic": ((1, 1), "LinkedIn profile photo"),
    "linkedin profile": ((1, 1), "LinkedIn profile photo"),
    "linkedin photo": ((1, 1), "LinkedIn profile photo"),
    "linkedin picture": ((1, 1), "LinkedIn profile photo"),
    "linkedin headshot": ((1, 1), "LinkedIn profile photo"),
    "profile photo": ((1, 1), "profile photo"),
    "profile picture": ((1, 1), "profile photo"),
    "profile pic": ((1, 1), "profile photo"),
    "avatar": ((1, 1), "profile photo"),
    "facebook cover": ((820, 312), "Facebook cover"),
    "facebook cover photo": ((820, 312), "Facebook cover"),
    "facebook banner": ((820, 312), "Facebook cover"),
    "pinterest pin": ((2, 3), "Pinterest pin"),
    "pin": ((2, 3), "Pinterest pin"),
    "twitter header": ((3, 1), "X/Twitter header"),
    "x header": ((3, 1), "X/Twitter header"),
    "twitter banner": ((3, 1), "X/Twitter header"),
    "twitter post": ((16, 9), "X/Twitter post"),
    "youtube banner": ((16, 9), "YouTube banner"),
    "youtube channel art": ((16, 9), "YouTube banner"),
    "channel art": ((16, 9), "YouTube banner"),
    "linkedin banner": ((4, 1), "LinkedIn banner"),
    "linkedin cover": ((4, 1), "LinkedIn banner"),
    "cinematic": ((21, 9), "cinematic"),
    "ultrawide": ((21, 9), "ultrawide"),
    "ultra wide": ((21, 9), "ultrawide"),
}

# Presets that put the subject in the middle of the frame (a profile photo is about the face).
CENTRED_PRESETS: frozenset[str] = frozenset(["LinkedIn profile photo", "profile photo"])

# Colour names beyond CSS's (which Pillow's ImageColor already knows, spelled without spaces).
EXTRA_COLOURS: dict[str, tuple[int, int, int]] = {
    "off white": (250, 249, 246),
    "offwhite": (250, 249, 246),
    "warm white": (253, 246, 232),
    "cool white": (244, 248, 251),
    "pure white": (255, 255, 255),
    "bright white": (255, 255, 255),
    "studio white": (255, 255, 255),
    "studio grey": (236, 236, 236),
    "studio gray": (236, 236, 236),
    "warm grey": (163, 158, 147),
    "warm gray": (163, 158, 147),
    "cool grey": (140, 146, 172),
    "cool gray": (140, 146, 172),
    "cream": (255, 253, 208),
    "charcoal": (54, 69, 79),
    "baby blue": (137, 207, 240),
    "sage": (178, 172, 136),
    "sage green": (178, 172, 136),
    "mustard": (255, 219, 88),
    "burgundy": (128, 0, 32),
    "mint": (152, 255, 152),
    "mint green": (152, 255, 152),
    "peach": (255, 218, 185),
    "terracotta": (226, 114, 91),
    "sand": (194, 178, 128),
    "taupe": (139, 133, 137),
    "emerald": (80, 200, 120),
    "emerald green": (80, 200, 120),
    "blush": (222, 93, 131),
    "blush pink": (222, 93, 131),
    "champagne": (247, 231, 206),
    "navy blue": (0, 0, 128),
    "royal blue": (65, 105, 225),
    "forest green": (34, 139, 34),
    "sky blue": (135, 206, 235),
    "jet black": (10, 10, 10),
    "pitch black": (0, 0, 0),
    "rose": (255, 102, 153),
    "lilac": (200, 162, 200),
    "mauve": (224, 176, 255),
    "ochre": (204, 119, 34),
    "rust": (183, 65, 14),
    "olive green": (128, 128, 0),
    "denim": (21, 96, 189),
    "cobalt": (0, 71, 171),
    "cobalt blue": (0, 71, 171),
    "petrol": (0, 95, 106),
    "graphite": (65, 66, 76),
    "slate": (112, 128, 144),
    "stone": (201, 192, 187),
    "nude": (227, 188, 154),
    "pastel pink": (255, 209, 220),
    "pastel blue": (174, 198, 207),
    "pastel green": (193, 225, 193),
    "pastel yellow": (253, 253, 150),
    "pastel purple": (207, 190, 230),
}

# Words that turn a base colour lighter or darker: word -> lightness change in HLS.
COLOUR_MODIFIERS: dict[str, float] = {
    "light": 0.22,
    "dark": -0.22,
    "deep": -0.28,
    "bright": 0.0,
    "pure": 0.0,
    "plain": 0.0,
    "solid": 0.0,
    "flat": 0.0,
}


# Words that dull a colour: its saturation is scaled by this ("muted green", "dusty rose").
DULLING_MODIFIERS: dict[str, float] = {"muted": 0.45, "dusty": 0.4, "dusky": 0.4}

# A soft colour is a pastel: at least this light, at most this saturated (HLS).
SOFT_LIGHTNESS = 0.75
SOFT_SATURATION = 0.5


def _css_colour(name: str) -> tuple[int, int, int] | None:
    code = ImageColor.colormap.get(name)
    if code is None:
        return None
    rgb = ImageColor.getrgb(code if isinstance(code, str) else "#{:02x}{:02x}{:02x}".format(*code))
    return (int(rgb[0]), int(rgb[1]), int(rgb[2]))


def _shift_lightness(rgb: tuple[int, int, int], delta: float) -> tuple[int, int, int]:
    hue, lightness, saturation = colorsys.rgb_to_hls(*(channel / 255 for channel in rgb))
    lightness = min(0.97, max(0.03, lightness + delta))
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
    return (round(red * 255), round(green * 255), round(blue * 255))


def _scale_saturation(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    hue, lightness, saturation = colorsys.rgb_to_hls(*(channel / 255 for channel in rgb))
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation * factor)
    return (round(red * 255), round(green * 255), round(blue * 255))


def soften(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """The pastel of a colour: lighter and less saturated, the same hue ("a soft blue to purple gradient")."""
    hue, lightness, saturation = colorsys.rgb_to_hls(*(channel / 255 for channel in rgb))
    red, green, blue = colorsys.hls_to_rgb(hue, max(lightness, SOFT_LIGHTNESS), min(saturation, SOFT_SATURATION))
    return (round(red * 255), round(green * 255), round(blue * 255))


# "-ish" forms, mostly used for casts ("a yellowish tint").
ISH_COLOURS: dict[str, str] = {
    "yellowish": "yellow",
    "yellowy": "yellow",
    "bluish": "blue",
    "blueish": "blue",
    "greenish": "green",
    "reddish": "red",
    "pinkish": "pink",
    "orangey": "orange",
    "orangish": "orange",
    "purplish": "purple",
    "purpley": "purple",
    "magentaish": "magenta",
    "brownish": "brown",
    "greyish": "grey",
    "grayish": "gray",
}


def colour_from_words(words: list[str]) -> tuple[int, int, int] | None:
    """The colour that one to three words name ("white", "light grey", "navy blue"), or None."""
    words = [word for word in words if word != "-"]  # "off-white", "navy-blue"
    if len(words) == 1 and words[0] in ISH_COLOURS:
        words = [ISH_COLOURS[words[0]]]
    phrase = " ".join(words)
    if phrase in EXTRA_COLOURS:
        return EXTRA_COLOURS[phrase]
    joined = "".join(words)
    if joined in ("transparent",):
        return None
    css = _css_colour(joined)
    if css is not None:
        return css
    if len(words) >= 2 and words[0] in SOFTENING:
        base = colour_from_words(words[1:])
        if base is not None:
            return soften(base)  # "soft blue", "pale pink": a pastel, lighter and less saturated
    if len(words) >= 2 and words[0] in COLOUR_MODIFIERS:
        base = colour_from_words(words[1:])
        if base is not None:
            delta = COLOUR_MODIFIERS[words[0]]
            return base if delta == 0 else _shift_lightness(base, delta)
    if len(words) >= 2 and words[0] in DULLING_MODIFIERS:
        base = colour_from_words(words[1:])
        if base is not None:
            return _scale_saturation(base, DULLING_MODIFIERS[words[0]])
    return None


def base_colour(words: tuple[str, ...] | list[str]) -> tuple[int, int, int] | None:
    """The colour named without its first word when that word only softens it ("soft blue" -> blue)."""
    if len(words) >= 2 and words[0] in SOFTENING:
        return colour_from_words(list(words[1:]))
    return colour_from_words(list(words))


def lighter(rgb: tuple[int, int, int], amount: float = 0.25) -> tuple[int, int, int]:
    """A lighter version of a colour (for one-colour gradients)."""
    return _shift_lightness(rgb, amount)


# Phrase -> (tag, value). The tags are read by the parser; see its docstring for what each means.
PHRASES: dict[str, tuple[str, object]] = {}


def _add(tag: str, value: object, *phrases: str) -> None:
    for phrase in phrases:
        PHRASES[phrase] = (tag, value)


_add(
    "BG",
    None,
    "background",
    "backgrounds",
    "backdrop",
    "bg",
    "back ground",
    "backround",
    "setting behind",
    "behind it",
    "behind the subject",
    "behind them",
    "behind him",
    "behind her",
)
_add(
    "REMOVE",
    "delete",
    "remove",
    "removed",
    "removing",
    "removal",
    "delete",
    "deleted",
    "erase",
    "get rid of",
    "strip",
    "strip out",
    "take out",
    "take away",
    "eliminate",
    "clear",
    "drop",
    "lose",
    "ditch",
)
_add(
    "REMOVE",
    "cutout",
    "cut out",
    "cutout",
    "cut it out",
    "isolate",
    "isolated",
    "extract",
    "knock out",
    "separate",
    "mask out",
)
_add("TRANSPARENT", None, "transparent", "transparency", "see through", "alpha", "alpha channel")
_add("GRADIENT", None, "gradient", "ombre", "fade", "graduated")
_add("GDIR", "vertical", "vertical", "top to bottom", "top-to-bottom")
_add("GDIR", "horizontal", "horizontal", "left to right", "side to side")
_add("GDIR", "radial", "radial", "circular", "vignette style")
_add("GDIR", "diagonal", "diagonal")
_add(
    "BLUR",
    None,
    "blur",
    "blurred",
    "blurry",
    "blurrier",
    "blurring",
    "defocus",
    "defocused",
    "out of focus",
    "unfocused",
    "bokeh",
    "soft focus",
    "blurriness",
)
_add(
    "PORTRAIT",
    None,
    "portrait mode",
    "portrait effect",
    "depth of field",
    "shallow depth of field",
    "background blur",
    "blur background",
)
_add("SHADOW", None, "shadow", "drop shadow", "contact shadow", "cast shadow", "ground shadow", "soft shadow")
_add("SOFT", None, "soft", "softly", "natural", "realistic", "nice", "gentle looking", "smooth")
_add(
    "PLAIN",
    None,
    "plain",
    "clean",
    "studio",
    "neutral",
    "seamless",
    "simple",
    "solid",
    "blank",
    "empty",
    "minimal",
    "minimalist",
    "uniform",
)

_add("ADJ", ("brightness", 1), "brighter", "brighten", "lighter", "lighten", "bright", "brightened")
_add("ADJ", ("brightness", -1), "darker", "darken", "dark", "dim", "dimmer", "darkened")
_add("ADJ", ("contrast", 1), "contrasty", "punchier", "punchy")
_add("ADJ", ("contrast", -1), "flatter", "softer contrast")
_add(
    "ADJ",
    ("saturation", 1),
    "saturate",
    "vivid",
    "vivider",
    "colourful",
    "colorful",
    "richer colours",
    "richer colors",
)
_add(
    "ADJ",
    ("saturation", -1),
    "desaturate",
    "desaturated",
    "muted",
    "mute",
)
_add("ADJ", ("warmth", 1), "warmer", "warm", "warm up", "warmed", "warmer tones", "warm tones")
_add("ADJ", ("warmth", -1), "cooler", "cool", "colder", "cold", "cool down", "cooled", "cool tones", "cooler tones")
_add("ATTR", "brightness", "brightness", "exposure", "light", "lightness", "darkness", "dimness")
_add("ATTR", "contrast", "contrast")
_add(
    "ATTR",
    "saturation",
    "saturation",
    "vibrance",
    "vibrancy",
    "colour intensity",
    "color intensity",
    "colour saturation",
    "color saturation",
)
_add("ATTR", "warmth", "warmth", "temperature", "colour temperature", "color temperature", "coolness", "coldness")
# Attribute nouns that name the low end of their scale: "reduce the darkness" brightens.
INVERSE_ATTRIBUTES: frozenset[str] = frozenset(["darkness", "dimness", "coolness", "coldness"])
# States that are themselves a complaint: "it's overexposed" means "it is too bright".
_add("STATE", ("brightness", 1), "overexposed", "over exposed", "over - exposed", "blown out")
_add("STATE", ("brightness", -1), "underexposed", "under exposed", "under - exposed")
_add("STATE", ("saturation", -1), "washed out", "washed - out", "dull", "lifeless", "faded out")
_add("STATE", ("contrast", -1), "flat", "looks flat", "too flat")
# Too much or too little of something ("too dark", "too much contrast", "not enough light"). A bare "too"
# is read as excess only right before what it qualifies (the parser decides); elsewhere it means "also".
_add(
    "EXCESS",
    None,
    "too much",
    "overly",
    "excessively",
    "far too much",
    "way too much",
    "too strong",
    "too intense",
    "too heavy",
    "too high",
    "too harsh",
)
_add("LACK", None, "not enough", "too little", "lacks", "lacking", "lack of", "insufficient", "too weak", "too low")
_add("ENOUGH", None, "enough")
_add("CAST", None, "cast", "colour cast", "color cast", "tinge", "tint", "colour tint", "color tint", "tinted")
_add("FIX", None, "fix", "correct", "neutralise", "neutralize", "neutralised", "neutralized")
_add("NOISY", None, "noisy", "grainy")
_add("ATTR", "sharpness", "sharpness", "detail", "details", "clarity", "crispness")
_add("ATTR", "noise", "noise", "grain", "graininess", "noisiness", "noise reduction")
_add(
    "SHARPEN",
    None,
    "sharpen",
    "sharper",
    "sharp",
    "crisp",
    "crisper",
    "sharpened",
    "crispen",
    "sharpening",
    "less blurry",
    "more detailed",
    "in focus",
)
_add(
    "DENOISE",
    None,
    "denoise",
    "denoised",
    "de-noise",
    "noiseless",
    "less noisy",
    "less grainy",
    "clean up the noise",
    "smooth out the noise",
    "smoother",
)
_add(
    "INC",
    None,
    "increase",
    "boost",
    "raise",
    "more",
    "up",
    "enhance",
    "intensify",
    "heighten",
    "add",
    "turn up",
    "bump up",
    "pump up",
    "crank up",
    "higher",
    "stronger",
    "amplify",
    "improve",
    "increased",
    "boosted",
    "raised",
    "adding",
    "increasing",
    "boosting",
    "enhanced",
)
_add(
    "DEC",
    None,
    "decrease",
    "reduce",
    "lower",
    "less",
    "down",
    "tone down",
    "turn down",
    "lessen",
    "weaker",
    "minus",
    "soften",
    "dial down",
    "decreased",
    "reduced",
    "lowered",
    "reducing",
    "lowering",
    "decreasing",
    "softening",
)

_add(
    "INT",
    SLIGHT,
    "slightly",
    "slight",
    "a bit",
    "a little",
    "a little bit",
    "a tiny bit",
    "a tad",
    "a touch",
    "somewhat",
    "subtly",
    "subtle",
    "gently",
    "gentle",
    "mildly",
    "mild",
    "lightly",
    "just a bit",
    "just a little",
    "a hint",
    "a hint of",
    "not too much",
    "faint",
    "faintly",
    "barely",
    "a small amount",
    "only slightly",
    "just slightly",
    "a bit more",
    "a little more",
    "little",
    "bit",
    "light touch",
    "weak",
    "softer",
    "not too strong",
    "not too strongly",
    "a little less",
    "a bit less",
)
_add(
    "INT",
    STRONG,
    "much",
    "a lot",
    "lots",
    "very",
    "really",
    "way",
    "strongly",
    "strong",
    "heavily",
    "heavy",
    "significantly",
    "considerably",
    "substantially",
    "noticeably",
    "dramatically",
    "quite a bit",
    "a great deal",
    "deep",
    "hard",
    "a lot more",
    "much more",
    "way more",
    "more strongly",
    "intense",
    "intensely",
    "bold",
)
_add(
    "INT",
    EXTREME,
    "extremely",
    "super",
    "hugely",
    "massively",
    "very very",
    "maximum",
    "max",
    "fully",
    "completely",
    "totally",
    "as much as possible",
    "entirely",
)

_add(
    "NEG",
    None,
    "no",
    "not",
    "dont",
    "do not",
    "never",
    "without",
    "avoid",
    "nothing",
    "doesnt",
    "does not",
    "shouldnt",
    "should not",
    "wont",
    "will not",
    "cannot",
    "cant",
    "neither",
    "nor",
    "nope",
    "isnt",
    "arent",
    "wasnt",
    "werent",
)
_add(
    "KEEP",
    None,
    "keep",
    "keeping",
    "keeps",
    "preserve",
    "preserving",
    "retain",
    "maintain",
    "leave",
    "leaving",
    "same",
    "unchanged",
    "intact",
    "as is",
    "as it is",
    "untouched",
    "original",
    "stay",
    "stays",
    "remain",
    "remains",
    "kept",
    "the way it is",
    "the way they are",
    "as they are",
)
_add(
    "CHANGE",
    None,
    "change",
    "changing",
    "changes",
    "alter",
    "altering",
    "modify",
    "modifying",
    "touch",
    "touching",
    "edit",
    "editing",
    "adjust",
    "adjusting",
    "mess with",
    "shift",
    "changed",
    "altered",
)
_add(
    "COLOURS",
    None,
    "colours",
    "colors",
    "colour",
    "color",
    "colouring",
    "coloring",
    "palette",
    "hues",
    "hue",
    "tones",
    "tone",
    "grading",
    "grade",
    "colour grade",
    "color grade",
    "colour grading",
    "color grading",
    "white balance",
)
_add(
    "MATCH",
    None,
    "match",
    "matching",
    "matched",
    "same as",
    "similar to",
    "copy",
    "borrow",
    "transfer",
    "take",
    "mimic",
    "look like",
    "looks like",
    "feel like",
    "feels like",
    "similar",
    "inspired by",
    "based on",
    "according to",
)
_add("MOOD", None, "mood", "look", "feel", "vibe", "atmosphere", "ambience", "ambiance", "lighting")

_add(
    "BW",
    None,
    "black and white",
    "black & white",
    "black-and-white",
    "b&w",
    "bw",
    "b/w",
    "grayscale",
    "greyscale",
    "monochrome",
    "mono",
    "gray scale",
    "grey scale",
    "noir",
)
_add("SEPIA", None, "sepia", "sepia tone", "sepia toned", "old photo", "antique")
_add("RECIPE", "vibrant", "vibrant", "pop", "make it pop", "punch", "more vibrant", "lively")
_add("RECIPE", "dramatic", "dramatic", "moody dramatic", "more dramatic", "drama")
_add("RECIPE", "moody", "moody", "moodier", "gloomy", "darker mood")
_add("RECIPE", "vintage", "vintage", "retro", "film look", "faded", "nostalgic")
_add("RECIPE", "golden", "golden hour", "golden", "sunset glow", "sunny")
_add(
    "ENHANCE",
    None,
    "auto enhance",
    "auto-enhance",
    "autoenhance",
    "auto levels",
    "auto-levels",
    "auto contrast",
    "auto-contrast",
    "auto colour",
    "auto color",
    "auto correct",
    "auto-correct",
    "auto fix",
    "auto-fix",
    "levels",
    "normalize",
    "normalise",
    "fix the lighting",
    "fix lighting",
    "fix the light",
    "improve the lighting",
    "better lighting",
    "fix the exposure",
    "fix exposure",
    "correct the exposure",
    "correct exposure",
    "auto exposure",
    "fix the colours",
    "fix the colors",
    "fix colours",
    "fix colors",
    "correct the colours",
    "correct the colors",
    "colour correct",
    "color correct",
    "colour correction",
    "color correction",
    "balance the colours",
    "balance the colors",
    "auto adjust",
    "auto tone",
)
# Correcting a colour cast as measured in the photo ("fix the white balance").
_add(
    "WB",
    None,
    "white balance",
    "auto white balance",
    "awb",
    "colour balance",
    "color balance",
)
# Where the picture is going: context, not a request ("white background for amazon listing"). A clause of
# nothing but a destination asks for no change; presets with a fixed shape ("Pinterest pin") are ASPECT.
_add(
    "PURPOSE",
    None,
    "amazon",
    "amazon listing",
    "shopify",
    "etsy",
    "ebay",
    "instagram",
    "insta",
    "facebook",
    "linkedin",
    "pinterest",
    "twitter",
    "youtube",
    "whatsapp",
    "website",
    "web site",
    "site",
    "web",
    "webshop",
    "web shop",
    "online shop",
    "online store",
    "store",
    "shop",
    "listing",
    "listings",
    "product listing",
    "marketplace",
    "catalogue",
    "catalog",
    "ecommerce",
    "e - commerce",
    "e commerce",
    "social media",
    "socials",
    "blog",
    "newsletter",
    "email",
    "ad",
    "ads",
    "advert",
    "advertisement",
    "flyer",
    "brochure",
    "presentation",
    "portfolio",
    "cv",
    "resume",
    "print",
    "printing",
    "product photo",
    "product shot",
    "product photography",
    "product image",
    "product picture",
    "listing photo",
    "main image",
    "hero image",
    "my profile",
)

_add("ROTATE", None, "rotate", "rotated", "rotating", "rotation", "spin")
_add("DIR", "cw", "clockwise", "right", "to the right", "cw")
_add(
    "DIR",
    "ccw",
    "counterclockwise",
    "counter-clockwise",
    "counter clockwise",
    "anticlockwise",
    "anti-clockwise",
    "anti clockwise",
    "left",
    "to the left",
    "ccw",
)
_add("UPSIDE", None, "upside down", "upside-down")
_add(
    "MIRROR",
    None,
    "mirror",
    "mirrored",
    "flip",
    "flipped",
    "reverse",
    "reversed",
    "mirror image",
    "flipping",
    "mirroring",
)
_add("AXIS", "horizontal", "horizontally", "sideways", "left-right", "left right", "side-to-side")
_add("AXIS", "vertical", "vertically", "top-bottom", "top bottom")
_add(
    "CROP",
    None,
    "crop",
    "cropped",
    "cropping",
    "trim",
    "trimmed",
    "cut",
    "reframe",
    "recrop",
    "format",
    "resize to",
    "frame",
    "framed",
    "framing",
    "cut off",
)
_add(
    "EXTEND",
    None,
    "extend",
    "extended",
    "expand",
    "expanded",
    "pad",
    "padded",
    "letterbox",
    "outpaint",
    "canvas",
    "widen",
    "add space",
    "add room",
    "extending",
    "padding to",
)
_add(
    "RATIO_WORD",
    None,
    "aspect",
    "aspect ratio",
    "ratio",
    "proportions",
    "proportion",
    "shape",
    "dimensions",
    "orientation",
)
_add(
    "SUBJECT",
    None,
    "subject",
    "product",
    "products",
    "person",
    "people",
    "object",
    "item",
    "items",
    "model",
    "foreground",
    "him",
    "her",
    "them",
    "man",
    "woman",
    "girl",
    "boy",
    "face",
    "main subject",
    "the product",
    "portrait subject",
    "figure",
    "thing",
)
_add(
    "CENTRE",
    None,
    "centre",
    "center",
    "centred",
    "centered",
    "centering",
    "centring",
    "middle",
    "in the middle",
    "in the centre",
    "in the center",
)
_add(
    "MARGIN",
    None,
    "margin",
    "margins",
    "padding",
    "space around",
    "breathing room",
    "room around",
    "white space",
    "whitespace",
)
_add(
    "CLOSE",
    None,
    "tight",
    "tightly",
    "close",
    "closely",
    "closer",
    "zoom in",
    "zoom in on",
    "tighter",
    "close-up",
    "closeup",
    "close up",
)
_add(
    "WHOLE",
    None,
    "whole",
    "entire",
    "everything",
    "all of it",
    "full",
    "whole thing",
    "whole picture",
    "whole image",
    "entire image",
    "whole photo",
    "entire photo",
    "everything in frame",
    "in frame",
)
_add(
    "SETTING",
    "resolution",
    "resolution",
    "4k",
    "2k",
    "1k",
    "8k",
    "1080p",
    "720p",
    "hd",
    "full hd",
    "uhd",
    "high res",
    "high-res",
    "hi-res",
    "megapixels",
    "dpi",
    "upscale",
    "upscaled",
    "upsize",
    "enlarge",
    "pixels",
    "px",
)
_add("SETTING", "format", "png", "jpg", "jpeg", "webp", "gif", "tiff", "heic", "file format", "format as")
_add(
    "NOOP",
    None,
    "resize",
    "resized",
    "resizing",
    "scale",
    "rescale",
    "no changes",
    "no other changes",
    "nothing else",
    "as-is",
)

# Requests that need a generative model: naming any of these gives the "use EDIT_BACKEND=openai" refusal.
_add(
    "GENERATIVE",
    "style",
    "painting",
    "painted",
    "cartoon",
    "anime",
    "watercolor",
    "watercolour",
    "sketch",
    "drawing",
    "oil painting",
    "pixar",
    "ghibli",
    "illustration",
    "comic",
    "3d render",
    "render",
    "style",
    "stylize",
    "stylise",
    "artistic",
    "pencil",
)
_add(
    "GENERATIVE",
    "content",
    "hat",
    "text",
    "logo",
    "watermark",
    "caption",
    "smile",
    "smiling",
    "eyes",
    "hair",
    "makeup",
    "teeth",
    "wrinkles",
    "blemishes",
    "skin",
    "glasses",
    "shirt",
    "dress",
    "jacket",
    "clothes",
    "outfit",
    "tattoo",
    "reflection",
    "lens flare",
    "light rays",
    "fog",
    "rain",
    "snow falling",
    "fireworks",
    "flowers",
    "plant",
    "dog",
    "cat",
    "car",
    "add text",
    "words",
    "replace the sky",
    "person in the background",
    "people in the background",
    "photobomber",
    "relight",
    "retouch",
    "restore",
    "colorize",
    "colourize",
    "age",
    "older",
    "younger",
    "slimmer",
    "thinner",
    "face swap",
    "swap faces",
    "expression",
    "pose",
    "lighting direction",
)
# Things of the setting (a new one needs a generative model; "keep the sky" asks to keep part of the background).
_add(
    "GENERATIVE",
    "scene",
    "sky",
    "sunset",
    "beach",
    "forest",
    "city",
    "street",
    "room",
    "office",
    "kitchen",
    "table",
    "floor",
    "wall",
    "grass",
    "mountains",
    "mountain",
    "snowy",
    "ocean",
    "sea",
    "clouds",
    "scene",
    "landscape",
)

# Words that carry no meaning of their own here.
FILLER: frozenset[str] = frozenset(
    [
        "please",
        "pls",
        "plz",
        "kindly",
        "can",
        "could",
        "would",
        "will",
        "you",
        "i",
        "id",
        "im",
        "want",
        "wanna",
        "wish",
        "like",
        "need",
        "needs",
        "the",
        "a",
        "an",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "my",
        "our",
        "your",
        "me",
        "us",
        "image",
        "photo",
        "picture",
        "pic",
        "pics",
        "shot",
        "photograph",
        "photos",
        "images",
        "pictures",
        "just",
        "so",
        "some",
        "overall",
        "go",
        "get",
        "lets",
        "let",
        "of",
        "with",
        "for",
        "in",
        "on",
        "onto",
        "into",
        "at",
        "as",
        "by",
        "to",
        "from",
        "is",
        "be",
        "being",
        "should",
        "must",
        "also",
        "too",
        "then",
        "nice",
        "nicely",
        "result",
        "output",
        "final",
        "version",
        "effect",
        "effects",
        "make",
        "makes",
        "making",
        "made",
        "turn",
        "turned",
        "give",
        "apply",
        "applied",
        "do",
        "done",
        "put",
        "place",
        "placed",
        "set",
        "use",
        "using",
        "there",
        "here",
        "thanks",
        "thank",
        "hi",
        "hello",
        "ok",
        "okay",
        "now",
        "one",
        "very",
        "slightly",
        "bit",
        "have",
        "has",
        "having",
        "and",
        "what",
        "which",
        "whole",
        "entire",
        "sure",
        "really",
        "simple",
        "simply",
        "little",
        "look",
        "looking",
        "looks",
        "feel",
        "feeling",
        "try",
        "trying",
        "instead",
        "kind",
        "sort",
        "quite",
        "way",
        "about",
        "around",
        "behind",
        "under",
        "beneath",
        "below",
        "underneath",
        "onto",
        "against",
        "over",
        "across",
        "mode",
        "new",
        "fresh",
        "pure",
        "basic",
        "professional",
        "proper",
        "good",
        "great",
        "nicely",
        "real",
        "actual",
        "thats",
        "theres",
        "he",
        "she",
        "they",
        "his",
        "hers",
        "their",
        "theyre",
        "anything",
        "else",
        "off",
        "something",
        "bottom",
        "exactly",
        "precisely",
        "are",
        "was",
        "were",
        "am",
        "seems",
        "seem",
        "appears",
        "bit",
        "currently",
        "still",
        "exact",
        "ready",
        "suitable",
        "suited",
        "good",
        "perfect",
        "ideal",
        "used",
        "upload",
        "uploading",
        "posting",
        "post",
        "listed",
    ]
) | {":", "-", "'", "*", "~", "=", ">"}
# Words in FILLER that also carry a tag are tagged; the tag wins ("very" is intensity, "up" is INC).

# Neutral verbs that signal "change something" (used to tell a generative request from nonsense).
GENERATIVE_VERBS: frozenset[str] = frozenset(
    [
        "add",
        "insert",
        "include",
        "replace",
        "swap",
        "change",
        "remove",
        "delete",
        "erase",
        "put",
        "place",
        "turn",
        "make",
        "give",
        "draw",
        "paint",
    ]
)

NUMBER_WORDS: dict[str, int] = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "fifteen": 15,
    "twenty": 20,
    "twenty-five": 25,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "a hundred": 100,
    "one hundred": 100,
    "half": 50,
}
ORDINALS: dict[str, int] = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "sixth": 6,
    "6th": 6,
    "seventh": 7,
    "7th": 7,
    "eighth": 8,
    "8th": 8,
    "ninth": 9,
    "9th": 9,
}
IMAGE_NOUNS: frozenset[str] = frozenset(
    [
        "image",
        "images",
        "photo",
        "photos",
        "picture",
        "pictures",
        "pic",
        "pics",
        "shot",
        "photograph",
        "img",
        "one",
        "reference",
        "upload",
        "file",
    ]
)
CONJUNCTIONS: frozenset[str] = frozenset(
    ["and", "then", "also", "plus", "but", "while", "whilst", "afterwards", "after"]
)

MAX_PHRASE_WORDS = max(len(phrase.split()) for phrase in PHRASES)

for _phrase, _preset in PRESETS.items():
    _add("ASPECT", _preset, _phrase)
for _word_ in (
    "convert",
    "converted",
    "switch",
    "swap",
    "swapped",
    "replace",
    "replaced",
    "replacing",
    "put",
    "placing",
    "putting",
    "making",
    "turning",
    "setting",
    "using",
    "changed",
    "adding",
    "want",
    "wanted",
    "needed",
    "appear",
    "appears",
    "ensure",
    "showing",
):
    if _word_ not in PHRASES:
        FILLER = FILLER | {_word_}
MAX_PHRASE_WORDS = max(len(phrase.split()) for phrase in PHRASES)
_add("SETTING", "resolution", "16k", "5k", "480p", "1440p", "2160p", "4320p", "12mp", "300dpi", "72dpi")
_add("ADJ", ("saturation", 1), "saturated")
_add("FILLER", None, "in front of", "on top of", "front", "top", "side", "sides")
_add("PORTRAIT", None, "bokeh", "bokeh effect", "background bokeh")

# What a part of the subject is kept as ("keep the label readable", "her glasses sharp"): the engine never
# blurs or softens the subject, so these hold for every operation it has.
_add("LEGIBLE", None, "readable", "legible", "visible", "recognisable", "recognizable", "clearly visible")
_add("KEEP", None, "accurate", "true to life", "true to the product", "true", "in place")
# Tonal ranges: the engine changes the whole photo's tones at once, never shadows or highlights on their own.
_add(
    "TONAL",
    None,
    "shadows",
    "the shadows",
    "highlights",
    "the highlights",
    "midtones",
    "mid tones",
    "mid - tones",
    "blacks",
    "whites",
)
_add("ADJ", ("contrast", 1), "high contrast", "higher contrast")
_add("ADJ", ("contrast", -1), "low contrast", "lower contrast")
# Why the picture looks as it does ("from the fluorescent lights", "it was shot at night"): context for a
# complaint, which asks for nothing by itself.
_add(
    "CAUSE",
    None,
    "indoor lighting",
    "indoor light",
    "indoor lights",
    "indoors",
    "fluorescent",
    "fluorescent lights",
    "fluorescent lighting",
    "tungsten",
    "tungsten light",
    "incandescent",
    "lamp",
    "lamps",
    "light bulbs",
    "at night",
    "shot at night",
    "taken at night",
    "in the shade",
    "overcast",
    "on my phone",
    "with my phone",
    "phone camera",
)
# Asking for "professional" without saying how: context beside a real request, refused when it is all there is.
_add(
    "VAGUE",
    None,
    "look professional",
    "professional look",
    "professional feel",
    "clean and professional",
    "look clean and professional",
    "look clean",
    "clean look",
    "look more professional",
    "more professional",
    "professional looking",
    "look expensive",
    "look more expensive",
    "more expensive",
    "expensive looking",
    "premium",
    "look premium",
    "more premium",
    "luxurious",
    "luxury",
    "high end",
    "high - end",
    "aesthetic",
    "more aesthetic",
    "aesthetically pleasing",
    "nicer",
    "look nicer",
    "prettier",
    "beautiful",
    "stunning",
    "eye catching",
    "eye - catching",
    "more eye catching",
    "stand out",
    "stand out more",
    "more appealing",
    "appealing",
    "more attractive",
    "clickable",
    "more clickable",
    "polished",
    "more polished",
    "look good",
    "amazing",
)
# Looks named by a season, a light or a medium (see the parser's RECIPES).
_add("RECIPE", "golden", "sunset tones", "sunset colours", "sunset colors", "sunset vibe", "sunset vibes")
_add("RECIPE", "golden", "sunset look", "sunset feel", "sunset light", "sunset lighting", "like a sunset")
_add("RECIPE", "golden", "sun is setting", "warm glow", "golden glow")
_add("RECIPE", "summer", "summer", "summery", "summer vibe", "summer vibes", "summer feel", "summertime")
_add("RECIPE", "winter", "winter", "wintry", "wintery", "winter feel", "winter vibe", "wintertime", "icy", "frosty")
_add("RECIPE", "autumn", "autumn", "autumnal", "autumn vibe", "fall vibes", "fall colours", "fall colors")
_add("RECIPE", "cosy", "cosy", "cozy", "cosier", "cozier", "hygge")
_add("RECIPE", "airy", "light and airy", "bright and airy", "airy")
_add("RECIPE", "cinematic", "cinematic look", "cinematic feel", "cinematic vibe", "cinematic grade")
_add("RECIPE", "cinematic", "cinematic colour grade", "cinematic color grade", "cinematic colours")
_add("RECIPE", "cinematic", "cinematic colors", "cinematic tones", "filmic", "movie look", "film grade")
_add("RECIPE", "vibrant", "pops", "popping", "make them pop", "make the colours pop", "make the colors pop")
# A light named as a look ("like a sunset"), unless the clause asks for it as a thing (see the parser).
LIGHT_LOOKS: dict[str, str] = {"sunset": "golden", "sunrise": "golden"}
_add("GENERATIVE", "scene", "sunrise")
# Presets that name a look as well as a shape: beside another shape, the word is the look.
PRESET_LOOKS: dict[str, str] = {"cinematic": "cinematic"}
# What is replaced, not wanted: "off-white instead of grey".
_add("INSTEAD", None, "instead of", "rather than", "in place of")
_add("PURPOSE", None, "feed", "instagram feed", "grid", "instagram grid", "thumbnail size", "my channel", "channel")
_add("FILLER", None, "headshot", "selfie", "snapshot", "make sure", "ensure that", "so that", "flat lay", "flatlay")
_add("CROP", None, "cutting", "cutting off", "cuts off", "cut anything off", "chop", "chopping", "chop off")
_add("CLOSE", None, "fill the frame", "fills the frame", "filling the frame", "fill more of the frame")
# Colour words that soften a colour: paler and less saturated ("muted green", "a soft blue to purple gradient").
SOFTENING: frozenset[str] = frozenset(["soft", "pastel", "pale", "gentle"])
MAX_PHRASE_WORDS = max(len(phrase.split()) for phrase in PHRASES)
_add("INC", None, "lift", "lifted", "recover")
_add("RECIPE", "golden", "sunny day", "sunnier")
MAX_PHRASE_WORDS = max(len(phrase.split()) for phrase in PHRASES)
_add("FILLER", None, "only", "gets", "got", "getting", "taken", "photographed")
# Effects the engine does not have (not new content: a classical filter could make them).
_add("EFFECT", None, "glow", "dreamy", "haze", "hazy", "bloom", "orton", "light leak", "light leaks", "halation")
MAX_PHRASE_WORDS = max(len(phrase.split()) for phrase in PHRASES)
