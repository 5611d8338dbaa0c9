# expect: reject invalid duration
FROM base
HEALTHCHECK --interval=forever CMD true
