"""Where pages come from: safe HTTP, robots, canonical URLs, polite crawls, WARC evidence, the relevance gate,
and the one function that turns bytes into a Page. Nothing here knows about claims or scores."""
