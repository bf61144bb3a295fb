// Starts Swagger UI on the service's own document. Kept out of index.html so the page's
// Content-Security-Policy can forbid inline scripts.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The default would send the document to validator.swagger.io; the page stays offline.
    validatorUrl: null,
    persistAuthorization: false,
    tryItOutEnabled: false,
  });
});
