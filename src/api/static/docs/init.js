/* global SwaggerUIBundle */
// Swagger UI for /openapi.json; try-it-out is on so /predict can take a file.
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  tryItOutEnabled: true,
  displayRequestDuration: true,
  defaultModelsExpandDepth: 1,
  supportedSubmitMethods: ['get', 'post', 'delete'],
});
