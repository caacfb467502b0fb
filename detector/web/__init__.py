"""The web face of stemcheck: server-rendered Check and Triage pages plus a JSON API.

It only chains the core stages (fetch/crawl -> check -> site report -> store) and renders their records;
every scraped or user-supplied string reaches HTML through Jinja2 autoescaping, never as markup.
"""
