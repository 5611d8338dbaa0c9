# expect: reject ENV requires at least one argument
FROM base
ENV
