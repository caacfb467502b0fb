"""The lab: corpus loading, training, evaluation, the evaluation gate, the keyword baseline and the notebooks'
analyses. The runtime (check, scans, the web app, scoring) never imports it; `stemcheck train` and
`stemcheck evaluate` do, when they run."""
