# expect: reject isn't allowed as an ONBUILD trigger
FROM base
ONBUILD FROM base
