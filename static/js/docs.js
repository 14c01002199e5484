// Starts Swagger UI on /docs from our own copy of its files (see app/main.py), inside our header and footer
// and restyled for contrast by static/css/docs.css.
window.SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: false, // a deep link inside each operation's toggle button would nest a link in a button
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
