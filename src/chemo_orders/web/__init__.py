"""The pharmacy workbench (design §10.6): the engine and the order record on a web page.

Server-rendered HTML from the same jinja2 environment and order-table template as the PDF;
htmx (vendored in ``static/``) only replaces the dose table as fields change, so every step
also works with JavaScript off. Who may do what is decided on the server for every request;
the page merely hides what a user may not do.
"""
