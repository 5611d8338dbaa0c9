# expect: reject expected an octal mode
FROM base
COPY --chmod=99999 f /f
