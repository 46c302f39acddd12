"""The report model of a run, and everything rendered from it.

One model (`model.RunReport`, serialised as evidence.json) carries what a run found; JUnit, the terminal
summary, the HTML report's rows and pictures, comparison and merging all read it, so every surface says the
same thing about the same control.
"""
