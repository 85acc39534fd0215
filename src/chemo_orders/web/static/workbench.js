// The workbench's only script of its own (no inline script: the CSP forbids it).
"use strict";

// Scripted pages hide the "Update doses" fallback button: htmx follows every change itself.
// Without JavaScript the button stays and the form works by full page loads.
document.documentElement.classList.add("js");

// A change made before htmx was listening (a fast hand, or an automated one, right after the
// page arrived) would otherwise leave the dose table stale: replay it once htmx is ready.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof htmx === "undefined") {
    return;
  }
  document.querySelectorAll("form[hx-post]").forEach(function (form) {
    var changed = Array.prototype.some.call(form.querySelectorAll("input:not([type=hidden]), select, textarea"), function (control) {
      if (control.tagName === "SELECT") {
        return Array.prototype.some.call(control.options, function (option) {
          return option.selected !== option.defaultSelected;
        });
      }
      return control.value !== control.defaultValue;
    });
    if (changed) {
      htmx.trigger(form, "change");
    }
  });
});
