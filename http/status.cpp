namespace ferry::http {}
