// The editor page: images in (picker, drop, paste), instruction, settings, a live price, then the edit's
// progress and its result with a before/after slider. The server checks everything again.
import { api, ApiError, formatCredits } from './api.js';
import { mountCompare } from './compare.js';

const config = JSON.parse(document.getElementById('editor-config').textContent);
const $ = (id) => document.getElementById(id);
const form = $('editor');
const els = {
  fileInput: $('file-input'), dropzone: $('dropzone'), thumbs: $('thumbs'), imageCounter: $('image-counter'),
  imagesError: $('images-error'), prompt: $('prompt'), promptCounter: $('prompt-counter'), promptError: $('prompt-error'),
  plan: $('plan'), sizeLine: $('size-line'), aspect: $('aspect-ratio'), costLine: $('cost-line'), why: $('why'),
  generate: $('generate'), parentId: $('parent-id'), stage: $('stage'), status: $('result-status'),
  actions: $('result-actions'), resultSize: $('result-size'), resultCost: $('result-cost'), download: $('download'),
  editResult: $('edit-result'), runAgain: $('run-again'), details: $('details'), upscale: $('upscale-note'), sizeNote: $('size-note'),
  announce: $('editor-announce'), statusLine: $('edit-status-line'), resultTitle: $('result-title'),
  resultCard: $('result-card'), promptCut: $('prompt-cut'),
};
const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');

// One polite message at a time (image moves, the price once typing pauses); the same text is not repeated.
let lastAnnounced = '';
function announce(message) {
  if (!message || message === lastAnnounced) return;
  lastAnnounced = message;
  els.announce.textContent = message;
}

const MAGIC = { png: [0x89, 0x50, 0x4e, 0x47], jpeg: [0xff, 0xd8, 0xff] };
const MAX_PIXELS = 50_000_000;
const numberFormat = new Intl.NumberFormat();

const state = {
  items: [], // { key, kind: 'file' | 'parent', file?, parentId?, url, width, height, error }
  balance: null,
  estimate: null,
  estimateFor: '',
  submitting: false,
  polling: null,
  shown: null, // the edit in the result panel
  touched: false, // the person has changed something (the price is announced and reasons shown from then on)
  tried: false, // the person pressed Generate (reasons are shown from then on)
  intent: null, // { key, fingerprint, editId, status }: what Generate last sent, see intentFor()
  refilling: false, // "Run again" is loading an edit's images into the form
  refilled: null, // the fingerprint "Run again" left the form with: Generate says it is ready to run it
  submitError: null, // { message, topUp, refused, fingerprint }: the server's answer to the last Generate, see update()
  promptCut: false, // the last paste or drop into the instruction was cut at the limit
};
let nextKey = 1;

// --- settings ------------------------------------------------------------------------------------------

function settings() {
  const data = new FormData(form);
  return {
    quality: data.get('quality') || 'medium',
    resolution: data.get('resolution') || '1K',
    aspect_ratio: data.get('aspect_ratio') || 'auto',
    output_format: data.get('output_format') || 'png',
  };
}

// Everything an edit is made of. While it stays the same, Generate means the same edit: one intent, one
// Idempotency-Key, so a retry after a lost answer is answered with the first edit and charged once.
function fingerprint() {
  return JSON.stringify([state.items.map((i) => i.key), els.prompt.value, settings(), els.parentId.value]);
}

// The intent Generate sends now: the last one while the form is unchanged and no result has arrived for it.
function intentFor(print) {
  if (state.intent?.fingerprint !== print) state.intent = { key: crypto.randomUUID(), fingerprint: print, editId: null, status: null };
  return state.intent;
}

// The status of the edit this very form (its fingerprint `print`) already made, while it waits or runs.
function editInProgress(print) {
  const intent = state.intent;
  if (!intent || !['queued', 'running'].includes(intent.status)) return null;
  return intent.fingerprint === print ? intent.status : null;
}

function localPrice(s, count) {
  return config.table[s.quality][s.resolution] + config.extra * Math.max(0, count - 1);
}

// --- images --------------------------------------------------------------------------------------------

async function sniff(file) {
  const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  const starts = (sig) => sig.every((b, i) => head[i] === b);
  if (starts(MAGIC.png)) return 'png';
  if (starts(MAGIC.jpeg)) return 'jpeg';
  const text = String.fromCharCode(...head);
  if (text.startsWith('RIFF') && text.slice(8, 12) === 'WEBP') return 'webp';
  return null;
}

function loadDimensions(url) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve({ width: img.naturalWidth, height: img.naturalHeight });
    img.onerror = () => resolve(null);
    img.src = url;
  });
}

async function addFiles(files) {
  const list = [...files].filter((f) => f && f.size !== undefined);
  if (!list.length) return;
  state.touched = true;
  const room = config.max_images - state.items.length;
  if (room <= 0) {
    showImagesError(`At most ${config.max_images} images per edit. Remove one to add another.`);
    return;
  }
  if (list.length > room) showImagesError(`Only ${room} more image${room === 1 ? '' : 's'} fit (${config.max_images} at most); the rest were left out.`);
  else showImagesError('');
  for (const file of list.slice(0, room)) {
    const item = { key: nextKey++, kind: 'file', file, url: URL.createObjectURL(file), width: 0, height: 0, error: '' };
    state.items.push(item);
    const type = await sniff(file);
    if (!type) item.error = 'Not a PNG, JPEG or WebP image';
    else if (file.size > config.max_upload_bytes) item.error = `Larger than ${Math.round(config.max_upload_bytes / 1048576)} MB`;
    else {
      const dims = await loadDimensions(item.url);
      if (!dims) item.error = 'This image cannot be read';
      else {
        Object.assign(item, dims);
        if (dims.width * dims.height > MAX_PIXELS) item.error = `${(dims.width * dims.height / 1e6).toFixed(0)} MP: the limit is 50 MP`;
      }
    }
  }
  renderThumbs();
  update();
  announce(`${state.items.length} of ${config.max_images} images${state.items.some((i) => i.error) ? ', some cannot be used' : ''}.`);
}

function removeItem(key) {
  const index = state.items.findIndex((i) => i.key === key);
  if (index < 0) return;
  const [item] = state.items.splice(index, 1);
  if (item.kind === 'file') URL.revokeObjectURL(item.url);
  if (item.kind === 'parent') els.parentId.value = '';
  showImagesError('');
  renderThumbs();
  update();
  announce(`Removed ${altFor(item, index)}. ${state.items.length} of ${config.max_images} images.`);
  // Focus goes to the image that took its place, the one before it, or the picker.
  const next = state.items[index] || state.items[index - 1];
  const target = next && els.thumbs.querySelector(`[data-key="${next.key}"] [data-remove]`);
  (target || els.fileInput).focus();
}

function altFor(item, index) {
  return item.kind === 'parent' ? 'Result of the earlier edit' : (item.file?.name || `Image ${index + 1}`);
}

function moveItem(key, delta) {
  const index = state.items.findIndex((i) => i.key === key);
  const target = index + delta;
  if (index < 0 || target < 0 || target >= state.items.length) return;
  if (state.items[target].kind === 'parent') return; // the earlier result stays first
  [state.items[index], state.items[target]] = [state.items[target], state.items[index]];
  renderThumbs();
  update();
  const tools = els.thumbs.querySelector(`[data-key="${key}"] .tools`);
  const same = tools?.querySelector(`[data-move="${delta}"]`);
  (same && !same.disabled ? same : tools?.querySelector(`[data-move="${-delta}"]`))?.focus();
  const moved = state.items[target];
  announce(`${altFor(moved, target)} is now image ${target + 1} of ${state.items.length}${target === 0 ? ', the main image' : ''}.`);
}

function renderThumbs() {
  const movable = state.items.filter((i) => i.kind !== 'parent').length;
  els.thumbs.replaceChildren(...state.items.map((item, index) => {
    const li = document.createElement('li');
    li.className = `thumb${index === 0 ? ' main' : ''}${item.error ? ' invalid' : ''}`;
    li.dataset.key = item.key;
    const img = new Image();
    img.src = item.url;
    img.alt = altFor(item, index);
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = item.kind === 'parent' ? 'Earlier result' : (index === 0 ? 'Main' : String(index + 1));
    li.append(img, badge);
    if (item.error) {
      // What is wrong and with which file, above the tools: a file that cannot be used is only removed.
      const bad = document.createElement('span');
      bad.className = 'bad';
      const what = document.createElement('span');
      what.textContent = item.error;
      const name = document.createElement('span');
      name.className = 'bad-name';
      name.textContent = img.alt;
      name.title = img.alt;
      bad.append(what, name);
      li.append(bad);
    }
    const tools = document.createElement('div');
    tools.className = 'tools';
    if (item.kind !== 'parent' && !item.error && movable > 1) {
      const earlier = button('◀', `Move ${img.alt} earlier`, () => moveItem(item.key, -1), { move: -1 });
      const later = button('▶', `Move ${img.alt} later`, () => moveItem(item.key, 1), { move: 1 });
      // Nothing to do at either end (and a parent result always stays first).
      earlier.disabled = index === 0 || state.items[index - 1].kind === 'parent';
      later.disabled = index === state.items.length - 1;
      tools.append(earlier, later);
    }
    tools.append(button('✕', `Remove ${img.alt}`, () => removeItem(item.key), { remove: true }));
    li.append(tools);
    return li;
  }));
  const n = state.items.length;
  const bad = state.items.filter((i) => i.error).length;
  // A file that cannot be used is not an image of the edit: the count says so rather than counting it.
  els.imageCounter.textContent = bad ? `${n} file${n === 1 ? '' : 's'}, ${bad} can't be used` : `${n}/${config.max_images}`;
  els.imageCounter.classList.toggle('over', n > config.max_images || bad > 0);
}

function button(text, label, onClick, data = {}) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.title = label;
  b.setAttribute('aria-label', label);
  if (data.move) b.dataset.move = data.move;
  if (data.remove) b.dataset.remove = '';
  b.addEventListener('click', onClick);
  return b;
}

function showImagesError(message) {
  els.imagesError.textContent = message;
  els.imagesError.hidden = !message;
  describe(els.fileInput, ['images-hint', message && 'images-error'], Boolean(message));
}

// Ties a field to what is said about it (hint, error, refusal) and marks it invalid while an error shows.
function describe(field, ids, invalid) {
  field.setAttribute('aria-describedby', ids.filter(Boolean).join(' '));
  if (invalid) field.setAttribute('aria-invalid', 'true');
  else field.removeAttribute('aria-invalid');
}

function showPromptError(message) {
  els.promptError.textContent = message;
  els.promptError.hidden = !message;
  linkPrompt();
}

function linkPrompt() {
  const refused = !els.plan.hidden && els.plan.classList.contains('refused');
  const error = !els.promptError.hidden;
  const cut = !els.promptCut.hidden;
  describe(els.prompt, ['prompt-counter', cut && 'prompt-cut', refused && 'plan', error && 'prompt-error'], refused || error);
}

// The box holds at most max_prompt_chars (its maxlength): a longer paste or drop is cut there, and that is said.
function noteInsert(text) {
  const p = els.prompt;
  const room = config.max_prompt_chars - (p.value.length - (p.selectionEnd - p.selectionStart));
  state.promptCut = text.length > room;
}

function showPromptCut(prompt) {
  if (prompt.length < config.max_prompt_chars) state.promptCut = false;
  if (els.promptCut.hidden === !state.promptCut) return;
  els.promptCut.hidden = !state.promptCut;
  linkPrompt();
  if (state.promptCut) { lastAnnounced = ''; announce(els.promptCut.textContent); }
}

// --- price, plan and the Generate button --------------------------------------------------------------

let estimateTimer = null;
let estimateAbort = null;
let announceTimer = null;

// The price is said once typing and clicking pause, not at every keystroke.
function announceCostSoon() {
  clearTimeout(announceTimer);
  if (!state.touched) return; // nothing said on page load
  announceTimer = setTimeout(() => {
    let text = els.costLine.textContent.replace('·', ', ');
    const refusal = state.estimate?.refusal && state.estimateFor === estimateKey() ? state.estimate.refusal : null;
    if (refusal) text = `${refusalTitle(refusal)}. ${text}`;
    announce(text);
  }, 1200);
}

function update() {
  const s = settings();
  const count = state.items.length;
  const prompt = els.prompt.value;
  const trimmed = prompt.trim();
  els.promptCounter.textContent = `${numberFormat.format(prompt.length)}/${numberFormat.format(config.max_prompt_chars)}`;
  els.promptCounter.classList.toggle('over', prompt.length > config.max_prompt_chars);
  showPromptCut(prompt);
  const credits = localPrice(s, Math.max(1, count));
  const balance = state.balance;
  els.costLine.innerHTML = '';
  els.costLine.append(`Cost ${formatCredits(credits)}`);
  const sep = document.createElement('span');
  sep.className = 'sep';
  sep.textContent = '·';
  els.costLine.append(sep, balance === null ? 'Remaining …' : `Remaining ${formatCredits(balance)}`);

  const print = fingerprint();
  if (state.submitError && state.submitError.fingerprint !== print) {
    // The form changed since the server's answer: the refusal was about the form before, so the plan box
    // shows the estimate again and the Result card its placeholder.
    if (state.submitError.refused) { state.estimateFor = ''; resetStage(); }
    state.submitError = null;
  }
  let reason = '';
  let topUp = false;
  const inProgress = editInProgress(print);
  if (inProgress) reason = `Editing… this edit is ${inProgress}. Change the images, the instruction or a setting to make another.`;
  else if (state.refilling) reason = 'Loading the images of that edit…';
  else if (!count) reason = 'Add at least one image.';
  else if (count > config.max_images) reason = `Use at most ${config.max_images} images.`;
  else if (state.items.some((i) => i.error)) {
    // Named in full here: a tile has room for only the start of a long file name.
    const bad = state.items.map((item, index) => item.error && `${altFor(item, index)} (${item.error})`).filter(Boolean);
    reason = `Remove the images marked in red: ${bad.join(', ')}.`;
  }
  else if (!trimmed) reason = 'Write an instruction.';
  else if (prompt.length > config.max_prompt_chars) reason = `Shorten the instruction to ${numberFormat.format(config.max_prompt_chars)} characters.`;
  else if (state.estimate?.refusal && state.estimateFor === estimateKey()) reason = 'Change the part of the instruction the editor cannot do (see above).';
  // The same form would be refused again: Generate waits for a change.
  else if (state.submitError?.refused) reason = 'Refused, nothing charged (see Result). Change the instruction, an image or a setting to try again.';
  else if (balance !== null && balance < credits) { reason = `This edit costs ${formatCredits(credits)} and you have ${formatCredits(balance)}.`; topUp = true; }
  else if (state.submitting) reason = '';

  // aria-disabled, not disabled: the button keeps its place in the Tab order and says why (aria-describedby=why).
  els.generate.setAttribute('aria-disabled', String(Boolean(reason) || state.submitting));
  els.generate.textContent = state.submitting ? 'Sending…' : 'Generate';
  // What the server said about the last submission stays until the form changes (Generate stays free: trying
  // again is the usual answer, and it is safe, see intentFor).
  const failed = !reason ? state.submitError : null;
  // After "Run again" the form looks as it did: say that it is ready and waits for Generate.
  const ready = !reason && !failed && state.refilled === print ? `Ready to run again: press Generate (${formatCredits(credits)}).` : '';
  const said = reason || failed?.message || ready;
  els.why.replaceChildren();
  if (said) {
    els.why.append(said);
    if (topUp || failed?.topUp) {
      const a = document.createElement('a');
      a.href = '/billing';
      a.textContent = 'Top up credits';
      els.why.append(' ', a); // the space outside the link: its underline starts at the words
    }
  }
  // Nothing is said against an editor nobody has used yet; an edit at work is always said.
  els.why.hidden = !said || !(state.touched || state.tried || inProgress || ready);
  els.why.classList.toggle('busy', Boolean(inProgress || state.refilling));
  els.why.classList.toggle('ready', Boolean(ready));
  scheduleEstimate();
  announceCostSoon();
}

function generateDisabled() {
  return els.generate.getAttribute('aria-disabled') === 'true';
}

function estimateKey() {
  const s = settings();
  const main = state.items[0];
  return JSON.stringify([s.quality, s.resolution, s.aspect_ratio, state.items.length, main?.width, main?.height, els.prompt.value.trim()]);
}

function scheduleEstimate() {
  const key = estimateKey();
  if (key === state.estimateFor) return;
  clearTimeout(estimateTimer);
  estimateTimer = setTimeout(() => runEstimate(key), 250);
}

async function runEstimate(key) {
  estimateAbort?.abort();
  estimateAbort = new AbortController();
  const s = settings();
  const main = state.items[0];
  const prompt = els.prompt.value.trim();
  try {
    const result = await api('/api/v1/estimate', {
      method: 'POST', signal: estimateAbort.signal,
      json: {
        quality: s.quality, resolution: s.resolution, aspect_ratio: s.aspect_ratio,
        image_count: Math.max(1, state.items.length),
        width: main?.width || null, height: main?.height || null,
        prompt: prompt && prompt.length <= config.max_prompt_chars ? prompt : null,
      },
    });
    state.estimate = result;
    state.estimateFor = key;
    if (result.balance !== null) state.balance = result.balance;
    showEstimate(result, s);
    update();
  } catch (err) {
    if (err.name !== 'AbortError') console.warn('estimate failed', err);
  }
}

function showEstimate(result, s) {
  const native = result.native_width !== result.width || result.native_height !== result.height;
  els.sizeLine.textContent = `Output ${result.width} × ${result.height} px`
    + (native ? ` · made at ${result.native_width} × ${result.native_height}` : '');
  showUpscaleNote(result);
  showSizeNote(result);
  const auto = els.aspect.querySelector('option[value="auto"]');
  if (auto) auto.textContent = s.aspect_ratio === 'auto' || state.items.length ? `Auto (${autoLabel(result, s)})` : 'Auto (from the first image)';
  if (result.refusal) showPlanRefusal(refusalTitle(result.refusal), result.refusal.message);
  else showPlanSteps(result.plan);
  linkPrompt();
}

// In place of the steps, what the editor will not do and why.
function showPlanRefusal(title, message) {
  els.plan.replaceChildren();
  els.plan.classList.add('refused');
  const strong = document.createElement('strong');
  strong.textContent = title;
  const p = document.createElement('div');
  p.textContent = clipRuns(message);
  const help = document.createElement('a');
  help.href = '/help/instructions';
  help.textContent = 'See what the editor understands';
  els.plan.append(strong, p, help);
  els.plan.hidden = false;
}

// The steps the edit will take: the estimate's as the form changes; once submitted, the edit's own plan,
// made with the picture (it says, for one, what a crop must cut), until the form changes again.
function showPlanSteps(steps) {
  els.plan.replaceChildren();
  els.plan.classList.remove('refused');
  els.plan.hidden = !steps?.length;
  if (!steps?.length) return;
  const strong = document.createElement('strong');
  strong.textContent = 'Will do:';
  const ul = document.createElement('ul');
  for (const step of steps) {
    const li = document.createElement('li');
    li.textContent = step;
    ul.append(li);
  }
  els.plan.append(strong, ul);
}

// A refusal quotes the instruction; a run of letters longer than a line is shortened where it is quoted
// (the whole of it stays in the box above).
const LONGEST_RUN = 80;
function clipRuns(text) {
  const run = new RegExp(`[^\\s“”"'()]{${LONGEST_RUN + 1},}`, 'gu'); // quotes and brackets around it stay
  return text.replace(run, (long) => `${[...long].slice(0, LONGEST_RUN).join('')}…`);
}

function refusalTitle(refusal) {
  return refusal.clause ? `Can't do “${clipRuns(refusal.clause)}”` : "Can't do this instruction";
}

// What the backend says about the size before the charge: a size its model cannot make (made smaller and
// enlarged), a size the provider calls experimental.
function showSizeNote(result) {
  const notes = result.size_notes || [];
  const title = document.createElement('strong');
  title.textContent = 'About this size';
  els.sizeNote.replaceChildren(title, ...notes.map((note) => {
    const line = document.createElement('span');
    line.className = 'size-note-line';
    line.textContent = note;
    return line;
  }));
  els.sizeNote.hidden = !notes.length;
}

// Enlarging a small image a lot cannot add detail: say so before anyone pays for a soft 4K picture.
function showUpscaleNote(result) {
  const main = state.items[0];
  const scale = main?.width ? Math.max(result.width / main.width, result.height / main.height) : 0;
  els.upscale.hidden = scale <= 4;
  if (scale > 4) {
    els.upscale.textContent = `The main image is ${main.width} × ${main.height} px: at ${result.width} × ${result.height} it is `
      + `enlarged ${Math.round(scale)}× and will look soft. A lower resolution or a larger original gives a sharper result.`;
  }
}

function autoLabel(result, s) {
  if (s.aspect_ratio !== 'auto') {
    const main = state.items[0];
    return main ? `${main.width}×${main.height} source` : 'from the first image';
  }
  return `${result.width} × ${result.height}`;
}

// --- submit and follow ---------------------------------------------------------------------------------

async function submit() {
  if (state.submitting) return;
  if (generateDisabled()) {
    // The button stays focusable while it cannot be used; pressing it says why.
    state.tried = true;
    update();
    lastAnnounced = '';
    announce(els.why.textContent);
    return;
  }
  const intent = intentFor(fingerprint());
  state.submitting = true;
  state.submitError = null;
  state.refilled = null;
  showImagesError('');
  showPromptError('');
  update();
  const s = settings();
  const body = new FormData();
  for (const item of state.items) if (item.kind === 'file') body.append('image', item.file, item.file.name || 'image');
  body.append('prompt', els.prompt.value);
  for (const [k, v] of Object.entries(s)) body.append(k, v);
  if (els.parentId.value) body.append('parent_id', els.parentId.value);
  const before = state.items[0]?.url;
  showProgress('queued');
  revealResult();
  try {
    const edit = await api('/api/v1/edits', { method: 'POST', body, headers: { 'Idempotency-Key': intent.key } });
    Object.assign(intent, { editId: edit.id, status: edit.status });
    if (edit.plan?.length) showPlanSteps(edit.plan);
    state.balance = state.balance === null ? null : state.balance - edit.credits;
    updateHeaderBalance();
    follow(edit, before);
    // Focus follows the work: to the new edit's status (the button keeps it while sending).
    $('progress-title')?.focus({ preventScroll: true });
  } catch (err) {
    showSubmitError(err);
  } finally {
    state.submitting = false;
    update();
  }
}

// On a phone the result panel is below the form: bring it up, so the progress and the result are seen.
function revealResult() {
  const top = els.resultCard.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight / 3) {
    els.resultCard.scrollIntoView({ behavior: reducedMotion.matches ? 'auto' : 'smooth', block: 'start' });
  }
}

// A refusal: the server read the form and will not make this edit (it sees the picture, which the estimate
// did not). A field that is itself wrong has its own code, and the editor checks those before sending.
const FIELD_MISTAKES = new Set(['invalid_request', 'invalid_option', 'prompt_required', 'prompt_too_long']);
function isRefusal(err) {
  return err instanceof ApiError && err.status === 422 && ['prompt', 'aspect_ratio', 'size'].includes(err.field)
    && !FIELD_MISTAKES.has(err.code);
}

function showSubmitError(err) {
  resetStage();
  const field = err instanceof ApiError ? err.field : null;
  if (isRefusal(err)) showRefused(err.message);
  else if (field === 'prompt') { showPromptError(err.message); els.prompt.focus(); }
  else if (field === 'image' || field === 'parent_id') { showImagesError(err.message); els.fileInput.focus(); }
  else {
    // No answer (or a proxy's): the edit may have been made. Generate again asks with the same key.
    const unanswered = err.status === 0 || err.status >= 500;
    const message = unanswered ? `${err.message} Pressing Generate again is safe: this edit is charged at most once.` : err.message;
    state.submitError = { message, topUp: err.code === 'insufficient_credits', fingerprint: fingerprint() };
    update();
    lastAnnounced = '';
    announce(message);
    els.generate.focus();
  }
  refreshBalance();
}

// The Result card says the edit was refused and cost nothing, the plan stops promising it, and Generate
// waits for a change to the form (update()).
function showRefused(message) {
  state.submitError = { message, refused: true, fingerprint: fingerprint() };
  setStatus('refused', `Refused, not charged: ${message}`);
  const box = document.createElement('div');
  box.className = 'error-box';
  const title = document.createElement('strong');
  title.textContent = 'Refused · not charged';
  const msg = document.createElement('p');
  msg.textContent = clipRuns(message);
  const note = document.createElement('p');
  note.className = 'small';
  note.textContent = 'Nothing was edited and no credits were taken. Change the instruction, an image or a setting, then press Generate again.';
  box.append(title, msg, note);
  els.stage.replaceChildren(box);
  showPlanRefusal("Can't do this edit", message);
  linkPrompt();
  update();
  focusResult();
}

function follow(edit, before) {
  clearTimeout(state.polling);
  state.shown = { edit, before };
  const started = Date.now();
  const tick = async () => {
    let current = edit;
    try { current = await api(`/api/v1/edits/${edit.id}`); } catch (err) { console.warn(err); }
    state.shown.edit = current;
    noteStatus(current);
    if (current.status === 'succeeded') return showResult(current, before);
    if (current.status === 'failed') return showFailure(current);
    showProgress(current.status, Math.round((Date.now() - started) / 1000));
    state.polling = setTimeout(tick, 700);
  };
  state.polling = setTimeout(tick, 300);
}

// Generate follows the edit its intent made: held while it waits or runs, a new intent once it has a result.
function noteStatus(edit) {
  const intent = state.intent;
  if (!intent || intent.editId !== edit.id) return;
  if (edit.status === 'succeeded' || edit.status === 'failed') state.intent = null;
  else if (intent.status !== edit.status) intent.status = edit.status;
  else return;
  update();
}

const STATUS_WORDS = { queued: 'Edit queued: waiting for a free worker.', running: 'Editing your image.' };

function setStatus(status, message = STATUS_WORDS[status]) {
  els.status.replaceChildren();
  // The status region speaks once per change, not at each poll.
  if (els.statusLine.dataset.status !== status) {
    els.statusLine.dataset.status = status;
    els.statusLine.textContent = message || '';
  }
  if (!status) return;
  const span = document.createElement('span');
  span.className = `status status-${status}`;
  span.textContent = status;
  els.status.append(span);
}

function showProgress(status, seconds = 0) {
  setStatus(status);
  els.actions.hidden = true;
  // Updated in place, so focus on the status stays where it is while the edit runs.
  let box = els.stage.querySelector('.progress');
  if (!box) {
    box = document.createElement('div');
    box.className = 'progress';
    const title = document.createElement('strong');
    title.id = 'progress-title';
    title.tabIndex = -1;
    const bar = document.createElement('div');
    bar.className = 'progress-bar';
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-labelledby', 'progress-title');
    bar.append(document.createElement('i'));
    const note = document.createElement('p');
    note.className = 'small muted';
    box.append(title, bar, note);
    els.stage.replaceChildren(box);
  }
  box.querySelector('strong').textContent = status === 'running' ? 'Editing your image…' : 'Waiting for a free worker…';
  box.querySelector('p').textContent = seconds ? `${seconds}s · your credits are reserved and only charged if it succeeds` : 'Your credits are reserved and only charged if it succeeds';
}

// After the result or a failure: focus to the Result heading, unless the person has moved on meanwhile.
function focusResult() {
  const active = document.activeElement;
  if (!active || active === document.body || active.id === 'progress-title' || active === els.generate || active === els.runAgain) {
    els.resultTitle.focus();
  }
}

function showResult(edit, before) {
  setStatus('succeeded', `Edit finished: ${edit.width} × ${edit.height} pixels, ${formatCredits(edit.credits)} charged.`);
  const after = `/api/v1/edits/${edit.id}/result?inline=1`;
  mountCompare(els.stage, { before: before || `/api/v1/edits/${edit.id}/inputs/0`, after, width: edit.width, height: edit.height,
                            frame: edit.usage?.frame ?? null, source: edit.inputs?.[0] ?? null });
  els.resultSize.textContent = `${edit.width} × ${edit.height} px · ${edit.output_format.toUpperCase()}`;
  els.resultCost.textContent = `${formatCredits(edit.credits)} charged`;
  els.download.href = `/api/v1/edits/${edit.id}/result`;
  els.details.href = `/edits/${edit.id}`;
  els.actions.hidden = false;
  focusResult();
  refreshBalance();
}

function showFailure(edit) {
  setStatus('failed', `The edit did not work: ${edit.error?.message || 'it failed'}. Your credits were returned.`);
  els.actions.hidden = true;
  const box = document.createElement('div');
  box.className = 'error-box';
  const title = document.createElement('strong');
  title.textContent = 'This edit did not work';
  const msg = document.createElement('p');
  msg.textContent = edit.error?.message || 'The edit failed.';
  const refund = document.createElement('p');
  refund.className = 'small';
  refund.textContent = `${formatCredits(edit.credits)} returned to your balance: a failed edit costs nothing.`;
  box.append(title, msg, refund);
  els.stage.replaceChildren(box);
  focusResult();
  refreshBalance();
}

function resetStage() {
  setStatus('');
  els.actions.hidden = true;
  els.stage.replaceChildren($('placeholder') || document.createTextNode(''));
}

async function refreshBalance() {
  try {
    const me = await api('/api/v1/me');
    state.balance = me.balance;
    updateHeaderBalance();
    update();
  } catch (err) { console.warn(err); }
}

function updateHeaderBalance() {
  const pill = document.querySelector('[data-balance]');
  if (pill && state.balance !== null) pill.textContent = formatCredits(state.balance);
}

// "Edit this result": the result becomes the first image of a new edit (parent_id), nothing re-uploaded.
function useAsParent(edit) {
  for (const item of state.items) if (item.kind === 'file') URL.revokeObjectURL(item.url);
  state.items = [{ key: nextKey++, kind: 'parent', parentId: edit.id, url: `/api/v1/edits/${edit.id}/result?inline=1`, width: edit.width, height: edit.height, error: '' }];
  els.parentId.value = edit.id;
  els.prompt.value = '';
  // A new form: nothing is said against it before the person types or presses Generate.
  state.touched = false;
  state.tried = false;
  renderThumbs();
  update();
  els.prompt.focus();
  form.scrollIntoView({ behavior: reducedMotion.matches ? 'auto' : 'smooth', block: 'start' });
}

// "Run again", wherever it is pressed (here, on an edit's page, in History): the editor takes that edit's
// images, instruction and settings, and nothing is sent or charged until Generate is pressed.
async function refill(edit) {
  state.refilling = true;
  update();
  try {
    const files = [];
    for (const input of edit.inputs) {
      const response = await fetch(input.url, { credentials: 'same-origin' });
      if (!response.ok) continue;
      const blob = await response.blob();
      const ext = (input.content_type.split('/')[1] || 'png').replace('jpeg', 'jpg');
      files.push(new File([blob], `input-${files.length + 1}.${ext}`, { type: blob.type }));
    }
    for (const item of state.items) if (item.kind === 'file') URL.revokeObjectURL(item.url);
    state.items = [];
    els.parentId.value = ''; // an earlier result it continued from is among its stored inputs
    els.prompt.value = edit.prompt;
    for (const name of ['quality', 'resolution', 'output_format']) {
      const radio = form.querySelector(`input[name="${name}"][value="${edit[name]}"]`);
      if (radio) radio.checked = true;
    }
    els.aspect.value = edit.aspect_ratio;
    await addFiles(files);
    state.refilled = fingerprint();
  } finally {
    state.refilling = false;
    update();
  }
}

async function runAgain(edit) {
  await refill(edit);
  els.generate.focus();
  lastAnnounced = '';
  announce('The editor has that edit\'s images, instruction and settings again. Press Generate to run it.');
}

function startFrom(start) {
  if (start.mode === 'from') useAsParent(start.edit);
  else refill(start.edit);
}

// --- wiring --------------------------------------------------------------------------------------------

els.fileInput.addEventListener('change', () => { addFiles(els.fileInput.files); els.fileInput.value = ''; });
for (const type of ['dragenter', 'dragover']) {
  els.dropzone.addEventListener(type, (e) => { e.preventDefault(); els.dropzone.classList.add('dragging'); });
}
for (const type of ['dragleave', 'drop']) {
  els.dropzone.addEventListener(type, () => els.dropzone.classList.remove('dragging'));
}
els.dropzone.addEventListener('drop', (e) => { e.preventDefault(); addFiles(e.dataTransfer?.files || []); });
document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', (e) => { if (!els.dropzone.contains(e.target)) { e.preventDefault(); addFiles(e.dataTransfer?.files || []); } });
document.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files || [])].filter((f) => f.type.startsWith('image/'));
  if (files.length) { e.preventDefault(); addFiles(files); }
});
els.prompt.addEventListener('input', () => { state.touched = true; update(); });
els.prompt.addEventListener('paste', (e) => noteInsert(e.clipboardData?.getData('text/plain') || ''));
els.prompt.addEventListener('drop', (e) => noteInsert(e.dataTransfer?.getData('text/plain') || ''));
form.addEventListener('change', (e) => { state.touched = true; if (e.target !== els.fileInput) update(); });
form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
els.editResult.addEventListener('click', () => state.shown && useAsParent(state.shown.edit));
els.runAgain.addEventListener('click', () => state.shown && runAgain(state.shown.edit));

renderThumbs();
update();
refreshBalance();
if (config.start) startFrom(config.start);
