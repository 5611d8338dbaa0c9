# expect: accept (the destination resolves inside the image)
FROM base
COPY f ../../../../../../tmp/strata-hostile-canary/pwned
