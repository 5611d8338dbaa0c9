# expect: reject outside the build context
FROM base
COPY ../* /x/
