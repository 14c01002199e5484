// A before/after slider: the result, with the original clipped over it up to the handle.
// Works with a mouse, touch and the keyboard (it is a range input underneath).

export function mountCompare(container, { before, after, width, height, alt = 'Edited image' }) {
  container.replaceChildren();
  const root = document.createElement('div');
  root.className = 'compare';
  root.style.setProperty('--split', '50%');

  const afterImg = new Image();
  afterImg.src = after;
  afterImg.alt = alt;
  if (width && height) { afterImg.width = width; afterImg.height = height; }
  afterImg.className = 'after';

  const beforeWrap = document.createElement('div');
  beforeWrap.className = 'before';
  const beforeImg = new Image();
  beforeImg.src = before;
  beforeImg.alt = 'Original image';
  beforeWrap.append(beforeImg);

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

  root.append(afterImg, beforeWrap, handle, left, right, range);
  container.append(root);
  return root;
}

function tag(text, side) {
  const span = document.createElement('span');
  span.className = `tag ${side}`;
  span.textContent = text;
  return span;
}
