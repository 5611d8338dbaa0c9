# expect: reject not found in build context
FROM base
COPY esc/secret /x
