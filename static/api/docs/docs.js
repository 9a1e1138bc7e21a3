// The API's paths are absolute (/api/v1/...), so "Try" requests go to this page's own origin.
// (An inline script would break the page's Content-Security-Policy, hence this file.)
document.getElementById('api-docs').setAttribute('server-url', window.location.origin);
