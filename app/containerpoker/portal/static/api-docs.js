// /api/docs: Swagger UI over /api/openapi.json. "Try it out" uses the portal's login cookie;
// writes carry the CSRF token from its companion cookie, as the portal's own pages do.
"use strict";

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrf_access_token=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : null;
}

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    requestInterceptor: (request) => {
      const token = csrfToken();
      if (token && !["GET", "HEAD"].includes((request.method || "GET").toUpperCase())) {
        request.headers["X-CSRF-TOKEN"] = token;
      }
      return request;
    },
  });
});
