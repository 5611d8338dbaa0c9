# expect: reject Unknown flag
FROM base
COPY --frm=x f /f
