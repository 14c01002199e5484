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
    "cinematic": ((21, 9), "cinematic"),
    "ultrawide": ((21, 9), "ultrawide"),
    "ultra wide": ((21, 9), "ultrawide"),
}

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
    "light": 0.22, "pale": 0.3, "pastel": 0.3, "soft": 0.15,
    "dark": -0.22, "deep": -0.28, "bright": 0.0, "pure": 0.0, "plain": 0.0, "solid": 0.0, "flat": 0.0,
}


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


def colour_from_words(words: list[str]) -> tuple[int, int, int] | None:
    """The colour that one to three words name ("white", "light grey", "navy blue"), or None."""
    phrase = " ".join(words)
    if phrase in EXTRA_COLOURS:
        return EXTRA_COLOURS[phrase]
    joined = "".join(words)
    if joined in ("transparent",):
        return None
    css = _css_colour(joined)
    if css is not None:
        return css
    if len(words) >= 2 and words[0] in COLOUR_MODIFIERS:
        base = colour_from_words(words[1:])
        if base is not None:
            delta = COLOUR_MODIFIERS[words[0]]
            return base if delta == 0 else _shift_lightness(base, delta)
    return None


def lighter(rgb: tuple[int, int, int], amount: float = 0.25) -> tuple[int, int, int]:
    """A lighter version of a colour (for one-colour gradients)."""
    return _shift_lightness(rgb, amount)


# Phrase -> (tag, value). The tags are read by the parser; see its docstring for what each means.
PHRASES: dict[str, tuple[str, object]] = {}


def _add(tag: str, value: object, *phrases: str) -> None:
    for phrase in phrases:
        PHRASES[phrase] = (tag, value)


_add("BG", None, "background", "backgrounds", "backdrop", "bg", "back ground", "backround", "setting behind",
     "behind it", "behind the subject", "behind them", "behind him", "behind her")
_add("REMOVE", "delete", "remove", "removed", "removing", "removal", "delete", "deleted", "erase", "get rid of",
     "strip", "strip out", "take out", "take away", "eliminate", "clear", "drop", "lose", "ditch")
_add("REMOVE", "cutout", "cut out", "cutout", "cut it out", "isolate", "isolated", "extract", "knock out",
     "separate", "mask out")
_add("TRANSPARENT", None, "transparent", "transparency", "see through", "alpha", "alpha channel")
_add("GRADIENT", None, "gradient", "ombre", "fade", "graduated")
_add("GDIR", "vertical", "vertical", "top to bottom", "top-to-bottom")
_add("GDIR", "horizontal", "horizontal", "left to right", "side to side")
_add("GDIR", "radial", "radial", "circular", "vignette style")
_add("GDIR", "diagonal", "diagonal")
_add("BLUR", None, "blur", "blurred", "blurry", "blurrier", "blurring", "defocus", "defocused", "out of focus",
     "unfocused", "bokeh", "soft focus", "blurriness")
_add("PORTRAIT", None, "portrait mode", "portrait effect", "depth of field", "shallow depth of field",
     "background blur", "blur background")
_add("SHADOW", None, "shadow", "drop shadow", "contact shadow", "cast shadow", "ground shadow", "soft shadow")
_add("SOFT", None, "soft", "softly", "natural", "realistic", "nice", "gentle looking", "smooth")
_add("PLAIN", None, "plain", "clean", "studio", "neutral", "seamless", "simple", "solid", "blank", "empty",
     "minimal", "minimalist", "uniform")

_add("ADJ", ("brightness", 1), "brighter", "brighten", "lighter", "lighten", "bright", "brightened")
_add("ADJ", ("brightness", -1), "darker", "darken", "dark", "dim", "dimmer", "darkened")
_add("ADJ", ("contrast", 1), "contrasty", "punchier", "punchy", "more contrasty")
_add("ADJ", ("contrast", -1), "flatter", "softer contrast")
_add("ADJ", ("saturation", 1), "saturate", "more saturated", "vivid", "more vivid", "vivider",
     "colourful", "colorful", "more colourful", "more colorful", "richer colours", "richer colors")
_add("ADJ", ("saturation", -1), "desaturate", "desaturated", "less saturated", "muted", "mute",
     "less colourful", "less colorful", "washed out")
_add("ADJ", ("warmth", 1), "warmer", "warm", "warm up", "warmed", "warmer tones", "warm tones")
_add("ADJ", ("warmth", -1), "cooler", "cool", "colder", "cold", "cool down", "cooled", "cool tones",
     "cooler tones")
_add("ATTR", "brightness", "brightness", "exposure", "light", "lightness")
_add("ATTR", "contrast", "contrast")
_add("ATTR", "saturation", "saturation", "vibrance", "vibrancy", "colour intensity", "color intensity",
     "colour saturation", "color saturation")
_add("ATTR", "warmth", "warmth", "temperature", "colour temperature", "color temperature")
_add("ATTR", "sharpness", "sharpness", "detail", "details", "clarity", "crispness")
_add("ATTR", "noise", "noise", "grain", "graininess", "noisiness", "noise reduction")
_add("SHARPEN", None, "sharpen", "sharper", "sharp", "crisp", "crisper", "sharpened", "crispen", "sharpening",
     "less blurry", "more detailed", "in focus")
_add("DENOISE", None, "denoise", "denoised", "de-noise", "noiseless", "less noisy", "less grainy",
     "clean up the noise", "smooth out the noise", "smoother")
_add("INC", None, "increase", "boost", "raise", "more", "up", "enhance", "intensify", "heighten", "add",
     "turn up", "bump up", "pump up", "crank up", "higher", "stronger", "amplify", "improve", "increased",
     "boosted", "raised", "adding", "increasing", "boosting", "enhanced")
_add("DEC", None, "decrease", "reduce", "lower", "less", "down", "tone down", "turn down", "lessen",
     "weaker", "minus", "soften", "dial down", "decreased", "reduced", "lowered", "reducing", "lowering",
     "decreasing", "softening")

_add("INT", SLIGHT, "slightly", "slight", "a bit", "a little", "a little bit", "a tiny bit", "a tad",
     "a touch", "somewhat", "subtly", "subtle", "gently", "gentle", "mildly", "mild", "lightly",
     "just a bit", "just a little", "a hint", "a hint of", "not too much", "faint", "faintly", "barely",
     "a small amount", "only slightly", "just slightly", "a bit more", "a little more", "little", "bit",
     "light touch", "weak", "softer", "not too strong", "not too strongly", "a little less", "a bit less")
_add("INT", STRONG, "much", "a lot", "lots", "very", "really", "way", "strongly", "strong", "heavily",
     "heavy", "significantly", "considerably", "substantially", "noticeably", "dramatically", "quite a bit",
     "a great deal", "deep", "hard", "a lot more", "much more", "way more", "more strongly",
     "intense", "intensely", "bold")
_add("INT", EXTREME, "extremely", "super", "hugely", "massively", "very very", "maximum", "max",
     "fully", "completely", "totally", "as much as possible", "entirely")

_add("NEG", None, "no", "not", "dont", "do not", "never", "without", "avoid", "nothing", "doesnt",
     "does not", "shouldnt", "should not", "wont", "will not", "cannot", "cant", "neither", "nor", "nope")
_add("KEEP", None, "keep", "keeping", "keeps", "preserve", "preserving", "retain", "maintain", "leave",
     "leaving", "same", "unchanged", "intact", "as is", "as it is", "untouched", "original", "stay", "stays",
     "remain", "remains", "kept", "the way it is", "the way they are", "as they are")
_add("CHANGE", None, "change", "changing", "changes", "alter", "altering", "modify", "modifying", "touch",
     "touching", "edit", "editing", "adjust", "adjusting", "mess with", "shift", "changed", "altered")
_add("COLOURS", None, "colours", "colors", "colour", "color", "colouring", "coloring", "palette", "hues",
     "hue", "tones", "tone", "tint", "grading", "grade", "colour grade", "color grade", "colour grading",
     "color grading", "white balance")
_add("MATCH", None, "match", "matching", "matched", "same as", "similar to", "copy", "borrow", "transfer",
     "take", "mimic", "look like", "looks like", "feel like", "feels like", "similar",
     "inspired by", "based on", "according to")
_add("MOOD", None, "mood", "look", "feel", "vibe", "atmosphere", "ambience", "ambiance", "lighting")

_add("BW", None, "black and white", "black & white", "black-and-white", "b&w", "bw", "b/w", "grayscale",
     "greyscale", "monochrome", "mono", "gray scale", "grey scale", "noir")
_add("SEPIA", None, "sepia", "sepia tone", "sepia toned", "old photo", "antique")
_add("RECIPE", "vibrant", "vibrant", "pop", "make it pop", "punch", "more vibrant", "lively")
_add("RECIPE", "dramatic", "dramatic", "moody dramatic", "more dramatic", "drama")
_add("RECIPE", "moody", "moody", "moodier", "gloomy", "darker mood")
_add("RECIPE", "vintage", "vintage", "retro", "film look", "faded", "nostalgic")
_add("RECIPE", "golden", "golden hour", "golden", "sunset glow", "sunny")
_add("ENHANCE", None, "auto enhance", "auto-enhance", "autoenhance", "auto levels", "auto-levels",
     "auto contrast", "auto-contrast", "auto colour", "auto color", "auto correct", "auto-correct",
     "auto fix", "auto-fix", "levels", "normalize", "normalise")

_add("ROTATE", None, "rotate", "rotated", "rotating", "rotation", "spin")
_add("DIR", "cw", "clockwise", "right", "to the right", "cw")
_add("DIR", "ccw", "counterclockwise", "counter-clockwise", "counter clockwise", "anticlockwise",
     "anti-clockwise", "anti clockwise", "left", "to the left", "ccw")
_add("UPSIDE", None, "upside down", "upside-down")
_add("MIRROR", None, "mirror", "mirrored", "flip", "flipped", "reverse", "reversed", "mirror image", "flipping", "mirroring")
_add("AXIS", "horizontal", "horizontally", "sideways", "left-right", "left right", "side-to-side")
_add("AXIS", "vertical", "vertically", "top-bottom", "top bottom")
_add("CROP", None, "crop", "cropped", "cropping", "trim", "trimmed", "cut", "reframe", "recrop", "format",
     "resize to", "frame", "framed", "framing", "cut off")
_add("EXTEND", None, "extend", "extended", "expand", "expanded", "pad", "padded", "letterbox",
     "outpaint", "canvas", "widen", "add space", "add room", "extending",
     "padding to")
_add("RATIO_WORD", None, "aspect", "aspect ratio", "ratio", "proportions", "proportion", "shape",
     "dimensions", "orientation")
_add("SUBJECT", None, "subject", "product", "products", "person", "people", "object", "item", "items",
     "model", "foreground", "him", "her", "them", "man", "woman", "girl", "boy", "face", "main subject",
     "the product", "portrait subject", "figure", "thing")
_add("CENTRE", None, "centre", "center", "centred", "centered", "centering", "centring", "middle",
     "in the middle", "in the centre", "in the center")
_add("MARGIN", None, "margin", "margins", "padding", "space around", "breathing room", "room around",
     "white space", "whitespace")
_add("CLOSE", None, "tight", "tightly", "close", "closely", "closer", "zoom in", "zoom in on", "tighter",
     "close-up", "closeup", "close up")
_add("WHOLE", None, "whole", "entire", "everything", "all of it", "full", "whole thing", "whole picture",
     "whole image", "entire image", "whole photo", "entire photo", "everything in frame", "in frame")
_add("SETTING", "resolution", "resolution", "4k", "2k", "1k", "8k", "1080p", "720p", "hd", "full hd",
     "uhd", "high res", "high-res", "hi-res", "megapixels", "dpi", "upscale", "upscaled", "upsize",
     "enlarge", "pixels", "px")
_add("SETTING", "format", "png", "jpg", "jpeg", "webp", "gif", "tiff", "heic", "file format", "format as")
_add("NOOP", None, "resize", "resized", "resizing", "scale", "rescale", "no changes", "no other changes",
     "nothing else", "as-is")

# Requests that need a generative model: naming any of these gives the "use EDIT_BACKEND=openai" refusal.
_add("GENERATIVE", "style", "painting", "painted", "cartoon", "anime", "watercolor", "watercolour", "sketch",
     "drawing", "oil painting", "pixar", "ghibli", "illustration", "comic", "3d render", "render",
     "style", "stylize", "stylise", "artistic", "pencil")
_add("GENERATIVE", "content", "hat", "text", "logo", "watermark", "caption", "sky", "sunset", "beach",
     "forest", "city", "street", "room", "office", "kitchen", "table", "floor", "wall", "grass",
     "mountains", "mountain", "snowy", "ocean", "sea", "clouds", "smile", "smiling", "eyes", "hair", "makeup", "teeth",
     "wrinkles", "blemishes", "skin", "glasses", "shirt", "dress", "jacket", "clothes", "outfit", "tattoo",
     "reflection", "lens flare", "light rays", "fog", "rain", "snow falling",
     "fireworks", "flowers", "plant", "dog", "cat", "car", "scene", "landscape", "add text", "words",
     "replace the sky", "person in the background", "people in the background", "photobomber",
     "relight", "retouch", "restore", "colorize", "colourize", "age", "older", "younger", "slimmer",
     "thinner", "face swap", "swap faces", "expression", "pose", "lighting direction")

# Words that carry no meaning of their own here.
FILLER: frozenset[str] = frozenset(["please", "pls", "plz", "kindly", "can", "could", "would", "will", "you", "i", "id", "im", "want", "wanna", "wish", "like", "need", "needs", "the", "a", "an", "it", "its", "this", "that", "these", "those", "my", "our", "your", "me", "us", "image", "photo", "picture", "pic", "pics", "shot", "photograph", "photos", "images", "pictures", "just", "so", "some", "overall", "go", "get", "lets", "let", "of", "with", "for", "in", "on", "onto", "into", "at", "as", "by", "to", "from", "is", "be", "being", "should", "must", "also", "too", "then", "nice", "nicely", "result", "output", "final", "version", "effect", "effects", "make", "makes", "making", "made", "turn", "turned", "give", "apply", "applied", "do", "done", "put", "place", "placed", "set", "use", "using", "there", "here", "thanks", "thank", "hi", "hello", "ok", "okay", "now", "one", "very", "slightly", "bit", "have", "has", "having", "and", "what", "which", "whole", "entire", "sure", "really", "simple", "simply", "little", "look", "looking", "looks", "feel", "feeling", "try", "trying", "instead", "kind", "sort", "quite", "way", "about", "around", "behind", "under", "beneath", "below", "underneath", "onto", "against", "over", "across", "mode", "new", "fresh", "pure", "basic", "professional", "proper", "good", "great", "nicely", "real", "actual", "thats", "theres", "he", "she", "they", "his", "hers", "their", "theyre", "anything", "else", "off", "something", "bottom"]) | {":", "-", "'", "*", "~", "=", ">"}
# Words in FILLER that also carry a tag are tagged; the tag wins ("very" is intensity, "up" is INC).

# Neutral verbs that signal "change something" (used to tell a generative request from nonsense).
GENERATIVE_VERBS: frozenset[str] = frozenset(
    ["add", "insert", "include", "replace", "swap", "change", "remove", "delete", "erase", "put", "place", "turn", "make", "give", "draw", "paint"]
)

NUMBER_WORDS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20, "twenty-five": 25, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "a hundred": 100, "one hundred": 100, "half": 50,
}
ORDINALS: dict[str, int] = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
    "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "ninth": 9, "9th": 9,
}
IMAGE_NOUNS: frozenset[str] = frozenset(
    ["image", "images", "photo", "photos", "picture", "pictures", "pic", "pics", "shot", "photograph", "img", "one", "reference", "upload", "file"]
)
CONJUNCTIONS: frozenset[str] = frozenset(["and", "then", "also", "plus", "but", "while", "whilst", "afterwards", "after"])

MAX_PHRASE_WORDS = max(len(phrase.split()) for phrase in PHRASES)

for _phrase, _preset in PRESETS.items():
    _add("ASPECT", _preset, _phrase)
for _word_ in ("convert", "converted", "switch", "swap", "swapped", "replace", "replaced", "replacing",
               "put", "placing", "putting", "making", "turning", "setting", "using", "changed", "adding",
               "want", "wanted", "needed", "appear", "appears", "ensure", "showing"):
    if _word_ not in PHRASES:
        FILLER = FILLER | {_word_}
MAX_PHRASE_WORDS = max(len(phrase.split()) for phrase in PHRASES)
_add("SETTING", "resolution", "16k", "5k", "480p", "1440p", "2160p", "4320p", "12mp", "300dpi", "72dpi")
_add("ADJ", ("saturation", 1), "saturated")
_add("FILLER", None, "in front of", "on top of", "front", "top", "side", "sides")
