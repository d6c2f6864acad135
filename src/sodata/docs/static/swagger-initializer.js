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
  // Authorize > oauth2: the realm's sign-in page, then back to oauth2-redirect.html. The
  // public client has no secret: PKCE proves that the code comes back to this page.
  window.ui.initOAuth({
    clientId: "sodata-swagger",
    usePkceWithAuthorizationCodeGrant: true,
    scopes: "openid",
  });
};
