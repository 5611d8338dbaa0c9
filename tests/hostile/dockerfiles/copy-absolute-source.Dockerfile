# expect: reject not found in build context
FROM base
COPY /etc/shadow /x
