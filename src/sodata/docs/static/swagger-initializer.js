// Served from the package: no CDN, works offline.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/swagger-api-json/v1",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    oauth2RedirectUrl: window.location.origin + "/docs/swagger-ui/oauth2-redirect.html",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  });
};
