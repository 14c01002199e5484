// The header on a phone: one row (brand, balance, Menu) with the links folded below it, opened by the Menu
// button. Without this script the links simply wrap under the brand.
const header = document.querySelector('.site-header');
const button = header?.querySelector('.menu-button');

if (button) {
  const setOpen = (open) => {
    button.setAttribute('aria-expanded', String(open));
    header.classList.toggle('menu-open', open);
  };
  header.classList.add('has-menu');
  button.hidden = false;
  button.addEventListener('click', () => setOpen(button.getAttribute('aria-expanded') !== 'true'));
  header.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && header.classList.contains('menu-open')) {
      setOpen(false);
      button.focus();
    }
  });
}
