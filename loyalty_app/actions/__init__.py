"""Points for actions besides buying (sign-up, birthday, newsletter, social follow,
product review, the merchant's own): ``services`` writes, ``selectors`` reads, ``tasks``
holds the birthday job. The catalogue and its limits are ``earning.policies``."""
