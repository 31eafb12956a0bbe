namespace ferry::core {}
