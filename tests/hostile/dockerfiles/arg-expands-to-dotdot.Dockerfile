# expect: reject outside the build context
ARG P=../../../..
FROM base
ARG P
COPY ${P}/etc/passwd /x
