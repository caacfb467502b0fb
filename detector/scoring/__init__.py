"""From scored claims to verdicts: flags with their evidence, the page verdict and its reasons, the site
verdict, and the verdict labels. Pure functions over records: nothing here reads files or the network."""
