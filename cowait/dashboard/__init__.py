"""The dashboard: a local web page of the project's runs (``cowait dashboard``).

``server`` runs it on 127.0.0.1 in a thread; ``app`` has its routes; ``guard`` lets in only requests
with the token; ``sources`` reads the runs from the records and the engines; ``feeds`` follows a
live run's stream once for every viewer; ``notebook_html`` renders executed notebooks; ``static``
is the page itself (plain HTML, CSS and JavaScript: nothing to build).
"""
