// A before/after slider that compares like with like. Left of the handle is the original, right of it the
// result, both drawn on one canvas in the original's coordinates:
// - a crop: the whole original, with what was cut away dimmed on both sides and the kept frame outlined;
//   the result sits exactly over the part of the original it came from;
// - an extend: the result fills the canvas; the original sits where it lies in it, with the added area
//   left empty (the stage's checkerboard) on the before side;
// - no frame known (the picture was turned, or the engine does not say): the whole original, letterboxed
//   into the result's shape, never cropped.
// Works with a mouse, touch and the keyboard (it is a range input underneath).

// frame: {x, y, width, height} of the result in fractions of the original (beyond 0..1 where extended);
// source: {width, height} of the original in pixels.
export function mountCompare(container, { before, after, width, height, alt = 'Edited image', frame = null, source = null }) {
  container.replaceChildren();
  const geometry = layout(frame, source, width, height);
  const root = document.createElement('div');
  root.className = 'compare';
  root.style.setProperty('--split', '50%');
  root.style.setProperty('--ratio', String(geometry.ratio));
  root.dataset.layout = geometry.kind;

  // The before side: the original where it lies on the canvas, shaded outside what the result kept.
  const beforeLayer = document.createElement('div');
  beforeLayer.className = 'before';
  const beforeImg = new Image();
  beforeImg.src = before;
  beforeImg.alt = geometry.kind === 'crop' ? 'Original image, whole; the part the result keeps is outlined'
    : geometry.kind === 'extend' ? 'Original image, where it lies in the extended result' : 'Original image';
  place(beforeImg, geometry.original);
  const shade = document.createElement('div');
  shade.className = 'shade';
  place(shade, geometry.frame);
  beforeLayer.append(beforeImg, shade);

  // The after side: the result over the part of the canvas it covers, shown right of the handle.
  const afterLayer = document.createElement('div');
  afterLayer.className = 'after-layer';
  const afterImg = new Image();
  afterImg.src = after;
  afterImg.alt = alt;
  if (width && height) { afterImg.width = width; afterImg.height = height; }
  afterImg.className = 'after';
  place(afterImg, geometry.frame);
  afterLayer.append(afterImg);

  const parts = [beforeLayer, afterLayer];
  if (geometry.kind === 'crop' || geometry.kind === 'extend') {
    const kept = document.createElement('div');
    kept.className = 'kept';
    kept.setAttribute('aria-hidden', 'true');
    place(kept, geometry.kept);
    parts.push(kept);
  }

  const handle = document.createElement('div');
  handle.className = 'handle';
  const left = tag('Before', 'left');
  const right = tag('After', 'right');

  const range = document.createElement('input');
  range.type = 'range';
  range.min = '0';
  range.max = '100';
  range.value = '50';
  range.step = '0.5';
  range.setAttribute('aria-label', 'Compare before and after');
  const say = () => range.setAttribute('aria-valuetext', `${Math.round(range.value)}% original, ${Math.round(100 - range.value)}% result`);
  say();
  range.addEventListener('input', () => { root.style.setProperty('--split', `${range.value}%`); say(); });

  root.append(...parts, handle, left, right, range);
  container.append(root);
  return root;
}

// Rectangles in fractions of the canvas: the original, the result (frame) and the part of the original the
// result keeps; the canvas's width/height ratio in pixels; and which case it is.
function layout(frame, source, width, height) {
  const full = { x: 0, y: 0, width: 1, height: 1 };
  const valid = frame && source && source.width > 0 && source.height > 0
    && [frame.x, frame.y, frame.width, frame.height].every(Number.isFinite) && frame.width > 0 && frame.height > 0;
  if (!valid) {
    const ratio = width && height ? width / height : (source ? source.width / source.height : 1);
    const inner = source ? contain(source.width / source.height, ratio) : full;
    return { kind: inner.width > 0.999 && inner.height > 0.999 ? 'same' : 'letterbox', ratio, original: inner, frame: full, kept: inner };
  }
  const u0 = Math.min(0, frame.x), v0 = Math.min(0, frame.y);
  const u1 = Math.max(1, frame.x + frame.width), v1 = Math.max(1, frame.y + frame.height);
  const span = (x, y, w, h) => ({ x: (x - u0) / (u1 - u0), y: (y - v0) / (v1 - v0), width: w / (u1 - u0), height: h / (v1 - v0) });
  const keptX0 = Math.max(0, frame.x), keptY0 = Math.max(0, frame.y);
  const keptX1 = Math.min(1, frame.x + frame.width), keptY1 = Math.min(1, frame.y + frame.height);
  const near = (a, b) => Math.abs(a - b) < 0.002;
  const same = near(frame.x, 0) && near(frame.y, 0) && near(frame.width, 1) && near(frame.height, 1);
  const extended = frame.x < -0.002 || frame.y < -0.002 || frame.x + frame.width > 1.002 || frame.y + frame.height > 1.002;
  return {
    kind: same ? 'same' : extended ? 'extend' : 'crop',
    ratio: ((u1 - u0) * source.width) / ((v1 - v0) * source.height),
    original: span(0, 0, 1, 1),
    frame: span(frame.x, frame.y, frame.width, frame.height),
    kept: span(keptX0, keptY0, keptX1 - keptX0, keptY1 - keptY0),
  };
}

// A picture of ratio `inner` fitted whole and centred into a canvas of ratio `outer`.
function contain(inner, outer) {
  if (inner > outer) { const h = outer / inner; return { x: 0, y: (1 - h) / 2, width: 1, height: h }; }
  const w = inner / outer;
  return { x: (1 - w) / 2, y: 0, width: w, height: 1 };
}

function place(element, box) {
  element.style.left = `${box.x * 100}%`;
  element.style.top = `${box.y * 100}%`;
  element.style.width = `${box.width * 100}%`;
  element.style.height = `${box.height * 100}%`;
}

function tag(text, side) {
  const span = document.createElement('span');
  span.className = `tag ${side}`;
  span.textContent = text;
  return span;
}
