"""Studies on the golden models: the measurements behind the claims and the config's choices
(docs/model.md), not models themselves.

``gradcheck`` (the ghost update approaches the backprop gradient), ``ffinit`` (feedforward
initialization: the free phase is one pass), ``cancellation`` (how well learned ghosts cancel),
``loopgain`` (why fitted ghosts need 3 steps of alpha = 1 under ``dynamics``) and
``diagnostics`` (where the fixed-point arithmetic loses precision, for ``ghostfpga compare``).
"""
