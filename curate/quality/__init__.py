"""Quality-rule kernels shared by the quality stages (tokens, Gopher, C4, n-grams, expressions)."""
